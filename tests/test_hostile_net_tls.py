"""TLS under hostile or unlucky peers: the idle timer across TLS writes, close_notify in
odd places, handshakes that fail in every way a client can make them fail, records cut
byte by byte, clients that do not read. In-process servers where an invariant of the
socket is checked, the real daemon where the worker must stay up (same pid, serving)
without leaking descriptors."""

import os
import socket
import ssl
import subprocess
import threading
import time
import types

import pytest

from daemon import read_response, wait_until
from debian import ensure

CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def _openssl(*args, cwd, input=None):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60, input=input)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA with a server certificate and a client one (alice), the same client's key with
    a certificate that expired in 2020, and a client certificate from another CA."""
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                 "-subj", f"/CN=hostile test {ca}", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (("server", "ca", "server.ext"), ("alice", "ca", "client.ext"),
                          ("mallory", "other-ca", "client.ext")):
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-set_serial", "0x77", "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    # an expired certificate for alice's key: `openssl ca` is the one that takes dates
    (d / "db").mkdir()
    (d / "db" / "index.txt").write_text("")
    (d / "db" / "serial").write_text("78\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca = test\n[test]\ndir = db\ndatabase = $dir/index.txt\nserial = $dir/serial\n"
        "new_certs_dir = $dir\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
        "x509_extensions = client\n[any]\ncommonName = supplied\n[client]\nextendedKeyUsage = clientAuth\n")
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "alice.csr",
             "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-out", "expired.pem", cwd=d)
    return types.SimpleNamespace(
        ca=str(d / "ca.pem"), cert=str(d / "server.pem"), key=str(d / "server.key"),
        alice=(str(d / "alice.pem"), str(d / "alice.key")), expired=(str(d / "expired.pem"), str(d / "alice.key")),
        mallory=(str(d / "mallory.pem"), str(d / "mallory.key")))


def client_context(pki, cert=None, max_version=None):
    context = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        context.load_cert_chain(*cert)
    if max_version is not None:
        context.maximum_version = max_version
    return context


def connect(port, context, timeout=20):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    except BaseException:
        raw.close()
        raise


class BioClient:
    """A TLS client over a raw socket whose every wire byte the test controls."""

    def __init__(self, port, context, timeout=20):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.alert = None  # the fatal alert the peer ended the stream with, if any

    def wire(self):
        """The records the client has made and not sent yet."""
        return self.outgoing.read()

    def handshake(self, send=None):
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                (send or self.raw.sendall)(self.wire())
                chunk = self.raw.recv(65536)
                assert chunk, "closed during the handshake"
                self.incoming.write(chunk)
                continue
            (send or self.raw.sendall)(self.wire())
            return self

    def records(self, data):
        self.tls.write(data)
        return self.wire()

    def close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        return self.wire()

    def read_until_end(self):
        """Plaintext until the server's close_notify or FIN."""
        data = b""
        while True:
            try:
                chunk = self.tls.read(65536)
                if not chunk:
                    return data
                data += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return data
            except ssl.SSLError as exc:  # the peer's fatal alert ends the stream too
                self.alert = exc
                return data
            try:
                wire = self.raw.recv(65536)
            except ConnectionResetError:
                return data
            if not wire:
                return data
            self.incoming.write(wire)

    def close(self):
        self.raw.close()


def tls_listener(st, pki, handshake_timeout=10.0, **values):
    """A TLS listener on the in-process server ``st``; its port."""
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    listener = socket.create_server(("127.0.0.1", 0))
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key, **values}), handshake_timeout)
    st.call(lambda: st.server.listen(sock=listener, tls=tls))
    return listener.getsockname()[1]


def read_chunked_to_end(sock):
    """A chunked response read until the server closes (a reset, or a TLS stream cut
    without close_notify, counts as a close): (head, the chunks' bytes, complete)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError):
            break
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        size = int(size, 16)
        if not size:
            return head, body, True
        body, rest = body + rest[:size], rest[size + 2:]
    return head, body, False


# -- the idle timer counts TLS writes as activity ------------------------------------------------
def streaming(server, st):
    """``/drip``: 20 chunks 0.1 s apart (2 s in all, twice the server's idle timeout);
    ``/stall``: the head, then nothing."""
    def on_request(req, res):
        if req.url == "/stall":
            res.write(b"first")
            return
        left = [20]

        def drip():
            if req.socket.destroyed:
                return
            left[0] -= 1
            res.write(b"x" * 100)
            if left[0]:
                server.loop.call_later(0.1, drip)
            else:
                res.end()
        drip()
    server.on("request", on_request)
    server.on("connection", lambda sock: sock.on("close", lambda _=False: st.record("closed")))
    server.set_timeout(1.0)


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_writes_keep_the_idle_timer_alive_on_tls_as_on_plain_sockets(serve, pki, secure):
    """Node's server.timeout is an idle timer reset by reads and writes: a response that
    keeps writing outlives it; one that stops writing does not."""
    st = serve(streaming)
    port = tls_listener(st, pki) if secure else st.port
    context = client_context(pki)

    def open_():
        return connect(port, context) if secure else socket.create_connection(("127.0.0.1", port), timeout=20)
    with open_() as sock:
        sock.sendall(b"GET /drip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, body, complete = read_chunked_to_end(sock)
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    assert complete and body == b"x" * 2000, (complete, len(body))
    started = time.monotonic()
    with open_() as sock:  # the control: a response that stops writing is cut at the timeout
        sock.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body, complete = read_chunked_to_end(sock)
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"first" and not complete
    assert time.monotonic() - started >= 0.9


def pauses(server, st):
    """``/pauses``: "a", 1 s of silence, "b", 1 s of silence, the end; the server's idle
    timeout is 0.4 s and a 'timeout' listener keeps the socket."""
    def on_request(req, res):
        def step(what):
            if what == "end":
                res.end()
            else:
                res.write(what.encode())
            st.record("wrote", what)
        step("a")
        server.loop.call_later(1.0, step, "b")
        server.loop.call_later(2.0, step, "end")
    server.on("request", on_request)
    server.set_timeout(0.4, lambda sock: st.record("timeout"))


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_the_idle_timer_fires_once_per_idle_period_and_a_write_starts_the_next(serve, pki, secure):
    st = serve(pauses)
    port = tls_listener(st, pki) if secure else st.port
    sock = connect(port, client_context(pki)) if secure else socket.create_connection(("127.0.0.1", port), timeout=20)
    with sock:
        sock.sendall(b"GET /pauses HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, body, complete = read_chunked_to_end(sock)
    assert complete and body == b"ab", (head, body)
    st.wait_for(lambda e: e == ("wrote", "end"))
    assert [e[-1] for e in st.events] == ["a", "timeout", "b", "timeout", "end"], st.events


# -- the real daemon: the worker stays up and keeps its descriptors -----------------------------------
def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def tls_failures(daemon, code=None):
    return sum(v for (name, labels), v in daemon.scrape().items()
               if name == "prefork_tls_handshake_failures_total" and (code is None or dict(labels)["code"] == code))


@pytest.fixture(scope="module")
def tls_daemon(pki):
    from daemon import Daemon
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--ca-certs", pki.ca, "--verify-client", "optional",
                    "--tls-handshake-timeout", "1", "--keep-alive-timeout", "30", app="apps.tls_app:setup", workers=1)
    try:
        daemon.wait_ready()
        daemon.worker = daemon.workers()[0]
        with connect(daemon.port, client_context(pki)) as sock:  # settle the worker's descriptors
            assert served_by(sock) == daemon.worker
        daemon.fds = fd_count(daemon.worker)
        yield daemon
    finally:
        daemon.cleanup()


def served_by(sock):
    import json
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return json.loads(read_response(sock, {"bytes": 0})[1])["pid"]


def assert_worker_fine(daemon, pki):
    """The same worker serves a new TLS connection, and its descriptors come back to
    their count once the test's connections are gone."""
    with connect(daemon.port, client_context(pki)) as sock:
        assert served_by(sock) == daemon.worker
    assert daemon.workers() == [daemon.worker]
    wait_until(lambda: fd_count(daemon.worker) <= daemon.fds, 20, 0.05,
               f"the worker's descriptors back to {daemon.fds}")
    log = daemon.log()
    assert "Traceback" not in log and "Exception in callback" not in log, log[-3000:]


def closed_by_server(client, timeout=20):
    """The server ended the connection within ``timeout``: the plaintext that came first."""
    client.raw.settimeout(timeout)
    return client.read_until_end()


# -- close_notify -------------------------------------------------------------------------------------
@pytest.mark.parametrize("after", [b"", b"bytes after the close_notify", b"\x17\x03\x03\x00\x05junk!"],
                         ids=["alone", "garbage-after", "record-after"])
def test_close_notify_mid_request_ends_the_stream_without_a_fin(tls_daemon, pki, after):
    """The peer's close_notify ends its stream at once (as a FIN would), even while its TCP
    side stays open; whatever follows it in the same segment is dropped, never looped on."""
    client = BioClient(tls_daemon.port, client_context(pki)).handshake()
    try:
        client.raw.sendall(client.records(b"GET / HTTP/1.1\r\nHost: x\r\n") + client.close_notify() + after)
        data = closed_by_server(client)  # no FIN from us: only the close_notify can end it
    finally:
        client.close()
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data  # a head cut short, as Node answers it
    assert_worker_fine(tls_daemon, pki)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_a_whole_request_then_close_notify_in_one_segment_is_answered(tls_daemon, pki, version):
    """The client's side is closed, the server's is not: the answer still goes out."""
    client = BioClient(tls_daemon.port, client_context(pki, max_version=version)).handshake()
    try:
        client.raw.sendall(client.records(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") + client.close_notify())
        data = closed_by_server(client)
    finally:
        client.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and b'"encrypted": true' in data, data
    assert_worker_fine(tls_daemon, pki)


def test_a_client_that_closes_without_close_notify_mid_request(tls_daemon, pki):
    client = BioClient(tls_daemon.port, client_context(pki)).handshake()
    client.raw.sendall(client.records(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart"))
    client.raw.shutdown(socket.SHUT_WR)
    try:
        data = closed_by_server(client)
    finally:
        client.close()
    assert data.startswith(b"HTTP/1.1 200 OK"), data  # the app answers without reading the body
    assert_worker_fine(tls_daemon, pki)


# -- handshakes that fail --------------------------------------------------------------------------------
def client_hello():
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        context.wrap_bio(incoming, outgoing, server_hostname="localhost").do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def reset(sock):
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def raw_peer(port, send, then):
    """Connect, send ``send``, then "fin" (and wait for the server's close), "rst", or
    "wait" (for the server to close on its own)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        if send:
            try:
                sock.sendall(send)
            except (BrokenPipeError, ConnectionResetError):
                return  # refused before all of it was sent
        if then == "rst":
            if send:  # the server has answered the hello (or refused it) before the reset
                sock.recv(1)
            reset(sock)
            return
        if then == "fin":
            sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    finally:
        sock.close()


def openssl_client(port, *args):
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args], input=b"",
                         capture_output=True, timeout=30)
    assert out.returncode != 0 and b"Cipher is (NONE)" in out.stdout, out.stdout


def test_every_kind_of_failed_handshake_is_counted_by_code_and_the_worker_stays_up(tls_daemon, pki):
    """Garbage, plain HTTP, an old protocol version, no shared cipher, a hello cut short
    (then FIN, reset or silence), a reset before a byte or after the hello, a hello
    followed by close_notify or by a flood of records: each is one
    tlsClientError with Node's code, the socket closed; 30 rounds of them leave the
    worker serving with its descriptors."""
    port = tls_daemon.port
    hello = client_hello()
    kinds = {
        "garbage": (lambda: raw_peer(port, b"\x16\x03\x01\x00\x05garbagegarbage", "wait"), "*"),
        "zeros": (lambda: raw_peer(port, b"\x00" * 300, "wait"), "*"),
        "plain-http": (lambda: raw_peer(port, CLOSE, "wait"), "ERR_SSL_HTTP_REQUEST"),
        "half-hello-fin": (lambda: raw_peer(port, hello[:40], "fin"), "ECONNRESET"),
        "hello-rst": (lambda: raw_peer(port, hello, "rst"), "ECONNRESET"),
        "rst-at-once": (lambda: raw_peer(port, b"", "rst"), "ECONNRESET"),
        "close-notify-in-hello": (lambda: raw_peer(port, hello + b"\x15\x03\x03\x00\x02\x01\x00", "wait"),
                                  "ECONNRESET"),
        "ccs-flood": (lambda: raw_peer(port, hello + b"\x14\x03\x03\x00\x01\x01" * 5000, "wait"), "*"),
        "tls1.1": (lambda: openssl_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"),
                   "ERR_SSL_UNSUPPORTED_PROTOCOL"),
        "no-shared-cipher-1.2": (lambda: openssl_client(port, "-tls1_2", "-cipher", "AES128-SHA"),
                                 "ERR_SSL_NO_SHARED_CIPHER"),
        "no-shared-cipher-1.3": (lambda: openssl_client(port, "-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"),
                                 "ERR_SSL_NO_SHARED_CIPHER"),
    }
    before = {code: tls_failures(tls_daemon, None if code == "*" else code) for _, code in kinds.values()}
    rounds = 3
    for _ in range(rounds):
        for run, _code in kinds.values():
            run()
    expected = {}
    for _, code in kinds.values():
        expected[code] = expected.get(code, 0) + rounds
    expected["*"] = sum(expected.values())  # every failure, whatever its code

    def counted():
        now = {code: tls_failures(tls_daemon, None if code == "*" else code) - before[code] for code in expected}
        return now if now == expected else None
    wait_until(counted, 20, 0.2, f"the failures counted by code: {expected}")
    for _ in range(30):  # a run of failures in a row
        raw_peer(port, b"\x16\x03\x01\x00\x05garbagegarbage", "wait")
        raw_peer(port, hello, "rst")
    wait_until(lambda: tls_failures(tls_daemon) - before["*"] == expected["*"] + 60, 20, 0.2,
               "the run of failures counted")
    assert_worker_fine(tls_daemon, pki)


def test_a_stalled_handshake_times_out_counted_and_closed(tls_daemon, pki):
    before = tls_failures(tls_daemon, "ERR_TLS_HANDSHAKE_TIMEOUT")
    started = time.monotonic()
    raw_peer(tls_daemon.port, client_hello()[:40], "wait")  # the server closes it: recv gives b""
    assert time.monotonic() - started >= 0.9  # the handshake timeout is 1 s
    wait_until(lambda: tls_failures(tls_daemon, "ERR_TLS_HANDSHAKE_TIMEOUT") == before + 1, 20, 0.2, "counted")
    assert_worker_fine(tls_daemon, pki)


@pytest.mark.parametrize("cert, code", [
    ("mallory", "ERR_SSL_CERTIFICATE_VERIFY_FAILED"),  # from a CA the server does not trust
    ("expired", "ERR_SSL_CERTIFICATE_VERIFY_FAILED"),
])
def test_a_client_certificate_that_does_not_verify_is_refused_and_counted(tls_daemon, pki, cert, code):
    before = tls_failures(tls_daemon, code)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        # TLS 1.3: the client finishes first; the server's alert comes at the first read
        with connect(tls_daemon.port, client_context(pki, cert=getattr(pki, cert))) as sock:
            served_by(sock)
    wait_until(lambda: tls_failures(tls_daemon, code) == before + 1, 20, 0.2, f"{code} counted")
    assert_worker_fine(tls_daemon, pki)


def test_optional_client_certificates(tls_daemon, pki):
    import json
    for cert, authorized in ((None, False), (pki.alice, True)):
        with connect(tls_daemon.port, client_context(pki, cert=cert)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            info = json.loads(read_response(sock, {"bytes": 0})[1])
        assert info["authorized"] is authorized and info["peer_cn"] == ("alice" if cert else None)
        assert info["peer_certificate"] == ("decoded" if cert else "empty")  # {}, as Node's getPeerCertificate()


def test_renegotiation_is_refused_and_the_connection_ends(tls_daemon, pki):
    """A TLS 1.2 client asking to renegotiate gets no_renegotiation: the session is not
    renegotiated, the client gives up, the worker goes on."""
    proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_daemon.port}", "-tls1_2",
                             "-CAfile", pki.ca], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        proc.stdin.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        proc.stdin.flush()
        seen = b""
        while b'"encrypted": true' not in seen:  # the body ends without a newline: raw reads
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, seen
            seen += chunk
        proc.stdin.write(b"R\n")  # s_client's command: renegotiate (stdin stays open)
        proc.stdin.flush()
        # until s_client gives up and exits (the watchdog kills it if it does not)
        rest = b"".join(iter(lambda: os.read(proc.stdout.fileno(), 65536), b""))
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    assert b"RENEGOTIATING" in rest and b"no renegotiation" in rest, rest
    assert_worker_fine(tls_daemon, pki)


def flip_last_byte(records):
    return records[:-1] + bytes([records[-1] ^ 1])


@pytest.mark.parametrize("spoil", [
    flip_last_byte,  # a record that fails its integrity check
    lambda records: b"\x17\x03\x03\x48\x01" + b"z" * 100,  # a record longer than TLS allows
    lambda records: b"\x99\x03\x03\x00\x05hello",  # an unknown content type
    lambda records: b"\x15\x03\x03\x00\x02\x02\x28",  # a fatal alert in the clear
], ids=["bad-mac", "too-long", "bad-type", "alert"])
def test_a_broken_record_after_the_handshake_closes_the_connection(tls_daemon, pki, spoil):
    """After the handshake a broken stream is the connection's error (no tlsClientError):
    the socket is closed, the worker goes on."""
    before = tls_failures(tls_daemon)
    client = BioClient(tls_daemon.port, client_context(pki)).handshake()
    try:
        client.raw.sendall(client.records(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        head = b""
        while b"}" not in head:  # the first answer, whole
            try:
                head += client.tls.read(65536)
            except ssl.SSLWantReadError:
                client.incoming.write(client.raw.recv(65536))
        client.raw.sendall(spoil(client.records(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
        assert closed_by_server(client) == b""  # closed, nothing more answered
        assert "ALERT" in str(client.alert), client.alert  # after the fatal alert RFC 8446 6.2 asks for
    finally:
        client.close()
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert_worker_fine(tls_daemon, pki)
    assert tls_failures(tls_daemon) == before
