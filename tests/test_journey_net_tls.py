"""An operator terminating TLS in prefork instead of nginx: how connections end (every
byte, then the whole close_notify, then the FIN, without a reset, for slow readers and
clients that pipeline past a ``Connection: close``), session resumption across workers,
plain HTTP sent to the TLS port, idle connections closed by a timer; nginx run beside as
the reference. One real daemon per module, the worker checked to stay up without leaking
descriptors. Real clients (curl, s_client, Node) are in test_journey_net_tls_clients.py."""

import json
import os
import re
import socket
import ssl
import subprocess
import threading

import pytest

from apps.journey_net import pattern
from daemon import Daemon, wait_until
from debian import ensure
from test_hostile_net_tls import client_context, fd_count, pki  # noqa: F401  (pki: a fixture)

MB = 1024 * 1024


def listening_port(daemon, scheme_host):
    """The port the master reports for the bind entry starting with ``scheme_host``."""
    pattern_ = r"listening at \S+:(\d+) \(" + re.escape(scheme_host)
    daemon.wait_log(pattern_)
    return int(re.search(pattern_, daemon.log()).group(1))


@pytest.fixture(scope="module")
def tls_daemon(pki, tmp_path_factory):  # noqa: F811
    """One worker: TLS on the handed-over socket, on ::1 and on a UNIX path; plain HTTP
    beside them."""
    tmp = tmp_path_factory.mktemp("journey-tls")
    d = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--bind", "http://127.0.0.1:0",
               "--bind", "https://[::1]:0", "--bind", f"https://unix:{tmp}/tls.sock",
               "--keep-alive-timeout", "30", app="apps.journey_net:setup", workers=1)
    try:
        d.wait_ready()
        d.plain_port = listening_port(d, "http://127.0.0.1")
        d.v6_port = listening_port(d, "https://[::1]")
        d.unix_path = f"{tmp}/tls.sock"
        d.worker = d.workers()[0]
        for secure in (False, True):
            assert served(d, pki, secure)["pid"] == d.worker  # the descriptors settle
        d.fds = fd_count(d.worker)
        yield d
    finally:
        d.cleanup()


def open_tls(port, pki, timeout=30, family=socket.AF_INET, host="127.0.0.1", **wrap):  # noqa: F811
    raw = socket.socket(family, socket.SOCK_STREAM)
    raw.settimeout(timeout)
    try:
        raw.connect((host, port) if family != socket.AF_UNIX else host)
        return client_context(pki).wrap_socket(raw, server_hostname="localhost", **wrap)
    except BaseException:
        raw.close()
        raise


def open_plain(port, timeout=30):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_to_end(sock):
    """Everything until the end of the stream, and how it ended: "close_notify" (TLS,
    clean), "fin" (plain), "ragged" (TLS cut without close_notify), "reset"."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(MB)
        except ssl.SSLEOFError:
            return b"".join(chunks), "ragged"
        except ConnectionResetError:
            return b"".join(chunks), "reset"
        if not chunk:
            return b"".join(chunks), "close_notify" if isinstance(sock, ssl.SSLSocket) else "fin"
        chunks.append(chunk)


def served(d, pki, secure):  # noqa: F811
    sock = open_tls(d.port, pki) if secure else open_plain(d.plain_port)
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, _ = read_to_end(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), data
    return json.loads(body)


def worker_fine(d, pki):  # noqa: F811
    """The same worker serves both listeners, its descriptors come back to their count,
    and nothing went wrong in its log."""
    for secure in (False, True):
        assert served(d, pki, secure)["pid"] == d.worker
    assert d.workers() == [d.worker]
    wait_until(lambda: fd_count(d.worker) <= d.fds, 30, 0.05, f"the worker's descriptors back to {d.fds}")
    log = d.log()
    assert "Traceback" not in log and "Exception in callback" not in log, log[-3000:]


def split_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def read_framed(sock):
    """One Content-Length framed response off ``sock``: (head, body)."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(MB)
        assert chunk, bytes(data)
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = int(re.search(rb"\r\ncontent-length: (\d+)", head, re.I).group(1))
    body = bytearray(body)
    while len(body) < length:
        chunk = sock.recv(MB)
        assert chunk, (head, len(body))
        body += chunk
    return head, bytes(body)


# -- the end of a connection: every byte, then close_notify, then the FIN ----------------------------
def slow_read(sock, first, total_body):
    """Read the response whose first bytes are ``first`` a little at a time (a slow reader),
    until the end of the stream: (body, how it ended)."""
    data = bytearray(first)
    while True:
        try:
            chunk = sock.recv(16 * 1024)
        except ssl.SSLEOFError:
            return bytes(data), "ragged"
        except ConnectionResetError:
            return bytes(data), "reset"
        if not chunk:
            return bytes(data), "close_notify" if isinstance(sock, ssl.SSLSocket) else "fin"
        data += chunk
        if len(data) < total_body // 2:
            threading.Event().wait(0.0005)  # a reader slower than the server writes


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_bytes_sent_after_a_connection_close_request_do_not_cut_its_response(tls_daemon, pki, secure):
    """The client pipelines more requests behind one that says ``Connection: close`` and
    reads the large answer slowly: the server closes with those bytes unread. Closing then
    must not reset the connection (a reset throws away what the kernel still holds for the
    client): the whole body arrives, and on TLS the stream ends with close_notify."""
    size = 4 * MB
    sock = open_tls(tls_daemon.port, pki) if secure else open_plain(tls_daemon.plain_port)
    with sock:
        sock.sendall(f"GET /big/{size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        first = sock.recv(16 * 1024)
        assert first.startswith(b"HTTP/1.1 200 OK"), first
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 50)  # more than the server will ever read
        data, how = slow_read(sock, first, size)
    head, body = split_response(data)
    assert how == ("close_notify" if secure else "fin"), (how, len(body))
    assert len(body) == size and body == pattern(size)
    worker_fine(tls_daemon, pki)



def test_close_notify_is_never_lost_when_the_kernel_buffer_is_full_at_the_end(tls_daemon, pki):  # noqa: F811
    """A client that starts reading only after the server has queued the whole answer and
    ended (its socket buffer full): the close_notify made at the end must wait for room
    like the records before it, not be dropped when the kernel refuses it. Over a UNIX
    socket, whose buffer refuses a small write as soon as it is full; 80 sizes, so that
    the end falls on a full buffer many times."""
    cut = []
    for size in range(200_000, 200_000 + 80 * 7919, 7919):
        with open_tls(0, pki, family=socket.AF_UNIX, host=tls_daemon.unix_path, suppress_ragged_eofs=False) as sock:
            sock.sendall(b"GET /big/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % size)
            threading.Event().wait(0.03)  # the client reads late: the server has filled the buffer
            data, how = read_to_end(sock)
        if how != "close_notify" or len(split_response(data)[1]) != size:
            cut.append((size, how, len(data)))
    assert not cut, cut


# -- session resumption across workers ----------------------------------------------------------------
@pytest.fixture(scope="module")
def three_workers(pki):  # noqa: F811
    d = Daemon("--certfile", pki.cert, "--keyfile", pki.key, app="apps.journey_net:setup", workers=3)
    try:
        d.wait_ready()
        wait_until(lambda: len(d.workers()) == 3, 20, what="three workers")
        yield d
    finally:
        d.cleanup()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_a_session_resumes_on_whichever_worker_takes_the_next_connection(three_workers, pki, version):  # noqa: F811
    """nginx shares its session ticket keys among its workers; so do prefork's: a client
    that comes back with its ticket resumes, whichever worker accepts it."""
    context = client_context(pki, max_version=version)
    session, pids, resumed = None, [], []
    for _ in range(60):
        raw = socket.create_connection(("127.0.0.1", three_workers.port), timeout=30)
        with context.wrap_socket(raw, server_hostname="localhost", session=session) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data, _ = read_to_end(sock)  # the tickets (TLS 1.3) come with the answer
            pids.append(json.loads(split_response(data)[1])["pid"])
            if session is not None:
                resumed.append(sock.session_reused)
            session = sock.session
        if len(set(pids)) >= 2 and len(resumed) >= 5:
            break
    assert len(set(pids)) >= 2, pids
    assert all(resumed), list(zip(pids[1:], resumed))


# -- plain HTTP sent to the TLS port --------------------------------------------------------------------
def curl(*args, timeout=60):
    path, why = ensure("curl", "curl")
    if path is None:
        pytest.skip(why)
    return subprocess.run([path, "-sS", *args], capture_output=True, timeout=timeout)


def tls_failures(d, code):
    return sum(v for (name, labels), v in d.scrape().items()
               if name == "prefork_tls_handshake_failures_total" and dict(labels)["code"] == code)


@pytest.mark.parametrize("method, body, code", [
    ("GET", 0, "ERR_SSL_HTTP_REQUEST"),
    ("POST", 300 * 1024, "ERR_SSL_HTTP_REQUEST"),
    ("OPTIONS", 0, "ERR_SSL_WRONG_VERSION_NUMBER"),
    ("DELETE", 0, "ERR_SSL_WRONG_VERSION_NUMBER"),
], ids=["get", "post-300k", "options", "delete"])
def test_plain_http_to_the_tls_port_gets_a_400_in_the_clear(tls_daemon, pki, method, body, code):  # noqa: F811
    """As nginx does, a plain request on the TLS port is told so in a 400 the client can
    read (not an empty reply), whatever its method and whatever body it was sending;
    counted as a failed handshake, the connection closed in order."""
    before = tls_failures(tls_daemon, code)
    args = ["-i", "-X", method, f"http://127.0.0.1:{tls_daemon.port}/"]
    if body:
        args += ["--data-binary", "@-", "-H", "Expect:"]
    result = subprocess.run([ensure("curl", "curl")[0] or "curl", "-sS", *args], capture_output=True, timeout=60,
                            input=b"x" * body)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.1 400 Bad Request\r\n"), result.stdout
    assert b"HTTPS" in result.stdout and b"Connection: close" in result.stdout
    wait_until(lambda: tls_failures(tls_daemon, code) >= before + 1, 30, what="the failed handshake counted")
    worker_fine(tls_daemon, pki)


# -- connections the server ends on a timer still end with close_notify -----------------------------------
def hello(server, st):
    server.on("request", lambda req, res: res.end(b"hello"))
    server.on("connection", lambda sock: sock.on("close", lambda _=False: st.record("closed")))


def test_an_idle_kept_alive_connection_ends_with_close_notify(serve, pki):  # noqa: F811
    """When the keep-alive timer closes an idle TLS connection, the client reads a clean
    end of stream (close_notify, as nginx sends it), not a stream cut short."""
    from test_hostile_net_tls import tls_listener
    st = serve(hello, keep_alive_timeout=0.3)
    port = tls_listener(st, pki)
    with open_tls(port, pki, suppress_ragged_eofs=False) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = read_framed(sock)
        assert body == b"hello"
        data, how = read_to_end(sock)  # the server's keep-alive timer ends it
    assert (data, how) == (b"", "close_notify")
    st.wait_for(lambda e: e == ("closed",), 30)


# -- nginx, the reference an operator replaces: the same client behaviours side by side ---------------------
@pytest.fixture(scope="module")
def nginx_tls(pki, tmp_path_factory):  # noqa: F811
    """Debian's nginx terminating TLS with the same certificate on a socket bound here
    (handed over through the NGINX environment variable), serving ``/big/4194304``."""
    binary, why = ensure("nginx", "nginx-light")
    if binary is None:
        pytest.skip(why)
    from daemon import alive, children
    tmp = tmp_path_factory.mktemp("nginx-tls")
    (tmp / "www" / "big").mkdir(parents=True)
    (tmp / "www" / "big" / str(4 * MB)).write_bytes(pattern(4 * MB))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    (tmp / "nginx.conf").write_text(
        f"daemon off;\nuser root;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
        "events {}\nhttp {\n    access_log off;\n"
        + "".join(f"    {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                         "scgi"))
        + f"    server {{\n        listen 127.0.0.1:{port} ssl;\n        ssl_certificate {pki.cert};\n"
        f"        ssl_certificate_key {pki.key};\n        root {tmp}/www;\n    }}\n}}\n")
    proc = subprocess.Popen([binary, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()],
                            env=dict(os.environ, NGINX=f"{sock.fileno()};"))
    sock.close()
    try:
        log = tmp / "error.log"
        wait_until(lambda: (log.exists() and "start worker process" in log.read_text()) or proc.poll() is not None,
                   20, what="nginx started")
        assert proc.poll() is None, log.read_text()
        yield port
    finally:
        for pid in [proc.pid] + children(proc.pid):
            if alive(pid):
                os.kill(pid, 9)
        proc.wait(10)


def test_nginx_and_prefork_answer_plain_http_on_the_tls_port_alike(tls_daemon, nginx_tls, pki):  # noqa: F811
    for port in (nginx_tls, tls_daemon.port):
        result = curl("-i", f"http://127.0.0.1:{port}/")
        assert result.returncode == 0 and result.stdout.startswith(b"HTTP/1.1 400 Bad Request\r\n"), (port, result)


def test_nginx_and_prefork_close_alike_behind_pipelined_bytes(tls_daemon, nginx_tls, pki):  # noqa: F811
    """The pipelined-past-``Connection: close`` slow reader above, against both. Neither
    resets: each ends the stream with a close_notify. prefork delivers the whole body;
    nginx 1.22 (the reference here for the close, not for the body) sometimes ends the
    stream after the first ~100 KiB of it, so its body is not required whole."""
    size = 4 * MB
    for port in (nginx_tls, tls_daemon.port):
        with open_tls(port, pki) as sock:
            sock.sendall(f"GET /big/{size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            first = sock.recv(16 * 1024)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
            data, how = slow_read(sock, first, size)
        head, body = split_response(data)
        assert head.startswith(b"HTTP/1.1 200 OK") and how == "close_notify", (port, head, how, len(body))
        assert pattern(size).startswith(body), (port, len(body))  # what came is the body's start
        if port == tls_daemon.port:
            assert body == pattern(size), len(body)
