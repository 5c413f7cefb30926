"""A gunicorn user's WSGI app, moved to prefork unchanged: what the client sees, next to
what gunicorn (sync and gthread workers) gives for the same request.

Each server runs ``apps.journey_wsgi:app`` on a socket bound here on port 0; the
streamed responses wait between blocks on a FIFO the test writes to, so "the first block
arrives before the app makes the second" is checked without any timing.
"""

import json
import os
import socket

import pytest

from apps.journey_wsgi import wrapped_bytes
from daemon import wait_until
from journey_peers import gunicorns  # noqa: F401  (a fixture)

SERVERS = ["prefork-loop", "prefork-threads", "gunicorn-sync", "gunicorn-gthread"]


def start(kind, daemons, gunicorns, app="apps.journey_wsgi:app"):  # noqa: F811
    if kind.startswith("prefork"):
        threads = "1" if kind == "prefork-loop" else "4"
        server = daemons("--interface", "wsgi", "--threads", threads, app=app, workers=1)
    else:
        server = gunicorns(app, threads=1 if kind == "gunicorn-sync" else 4)
    server.wait_ready()
    return server


def _head_and_some(sock, until, timeout=20):
    """Bytes read until ``until`` is in them (or the peer closes, or ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    while until not in data:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("path", ["/stream", "/write"])
@pytest.mark.parametrize("kind", SERVERS)
def test_a_streamed_block_reaches_the_client_before_the_app_makes_the_next(daemons, gunicorns, tmp_path,  # noqa: F811
                                                                            kind, path):
    server = start(kind, daemons, gunicorns)
    fifo = str(tmp_path / "next")
    os.mkfifo(fifo)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    try:
        sock.sendall(f"GET {path}?{fifo} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        early = _head_and_some(sock, b"first\n", timeout=10)
        with open(fifo, "wb") as fh:  # the app waits for this before it makes the second block
            fh.write(b"x")
        rest = _head_and_some(sock, b"0\r\n\r\n")
    finally:
        sock.close()
    assert b"first\n" in early and b"second" not in early, early
    assert b"second\n" in rest


def _environ(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        sock.sendall(b"GET /environ?a=%2F%20b&c HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    return json.loads(_body(data))


def _body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = b"".join(body.split(b"\r\n")[1::2])
    return body


def test_the_environ_has_the_keys_gunicorn_gives(daemons, gunicorns):  # noqa: F811
    ours = _environ(start("prefork-loop", daemons, gunicorns).port)
    theirs = _environ(start("gunicorn-sync", daemons, gunicorns).port)
    server_own = {k for k in theirs if k.startswith("gunicorn.")} | {"wsgi.early_hints"}
    missing = set(theirs) - set(ours) - server_own
    assert not missing, f"keys gunicorn gives and prefork does not: {sorted(missing)}"
    for key in ("PATH_INFO", "QUERY_STRING", "RAW_URI", "HTTP_HOST", "SCRIPT_NAME",
                "REQUEST_METHOD", "SERVER_PROTOCOL", "wsgi.url_scheme", "wsgi.input_terminated"):
        assert ours[key] == theirs[key], key
    assert ours["SERVER_SOFTWARE"].startswith("prefork/")
    # a chosen difference (docs/wsgi.md): prefork takes SERVER_NAME/PORT from Host, gunicorn
    # from the listening address (Host only on a UNIX socket)
    assert (ours["SERVER_NAME"], ours["SERVER_PORT"]) == ("example.test", "8080")
    assert theirs["RAW_URI"] == "/environ?a=%2F%20b&c"


def test_threads_serve_others_while_one_call_blocks_in_a_socket_read(daemons):
    d = daemons("--interface", "wsgi", "--threads", "4", app="apps.journey_wsgi:app", workers=1)
    d.wait_ready()
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(1)
    blocked = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        blocked.sendall(f"GET /upstream?{upstream.getsockname()[1]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        upstream.settimeout(30)
        peer, _ = upstream.accept()  # the app's thread is now in recv() on this connection
        with peer:
            pids = {d.request("/pid").rpartition(b"\r\n\r\n")[2] for _ in range(5)}
            assert pids == {str(d.workers()[0]).encode()}  # one worker, and it answered meanwhile
            peer.sendall(b"hello")
            answer = _head_and_some(blocked, b"upstream said hello")
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"upstream said hello")
    finally:
        blocked.close()
        upstream.close()


@pytest.mark.parametrize("threads", ["1", "4"])
def test_app_errors_are_500s_logged_and_the_connection_goes_on(daemons, threads):
    d = daemons("--interface", "wsgi", "--threads", threads, app="apps.journey_wsgi:app", workers=1)
    d.wait_ready()
    worker = d.workers()
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    try:
        for path in ("/returns-none", "/no-start-response", "/no-start-response-gen", "/latin1-only",
                     "/errors?marker-" + threads):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            expected = b"logged" if path.startswith("/errors") else b"Internal Server Error\n"
            answer = _head_and_some(sock, expected)
            status = b"200" if path.startswith("/errors") else b"500"
            assert answer.startswith(b"HTTP/1.1 " + status) and answer.endswith(expected), (path, answer)
    finally:
        sock.close()
    d.wait_log(r"TypeError: 'NoneType' object is not iterable")
    d.wait_log(r"the app returned before calling start_response", count=2)
    d.wait_log(r"prefork\.wsgi: journey-errors marker-" + threads)  # wsgi.errors: the error log
    assert d.workers() == worker


def _scheme_and_remote(address, headers):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    sock = socket.socket(family)
    sock.settimeout(20)
    try:
        sock.connect(address)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    environ = json.loads(_body(data))
    return environ["wsgi.url_scheme"]


@pytest.mark.parametrize("allow", [None, "*", "127.0.0.0/8", "unix", "10.0.0.1"])
@pytest.mark.parametrize("over", ["tcp", "unix"])
def test_forwarded_proto_is_trusted_from_the_peers_gunicorn_trusts(daemons, gunicorns, tmp_path, allow, over):  # noqa: F811
    """``forwarded_allow_ips`` as gunicorn reads it: ``*``, networks, and UNIX-socket peers
    (a proxy on the same host; gunicorn always trusts them, so does prefork's default)."""
    args = () if allow is None else ("--forwarded-allow-ips", allow)
    gunicorn_args = args if allow != "unix" else ()  # gunicorn has no "unix" entry: it trusts them anyway
    if over == "unix":
        ours_at, theirs_at = str(tmp_path / "prefork.sock"), str(tmp_path / "gunicorn.sock")
        ours = daemons("--interface", "wsgi", "--bind", f"unix:{ours_at}", *args, app="apps.journey_wsgi:app",
                       workers=1, bind_socket=False)
        theirs = gunicorns("apps.journey_wsgi:app", *gunicorn_args, unix=theirs_at)
    else:
        ours = daemons("--interface", "wsgi", *args, app="apps.journey_wsgi:app", workers=1)
        theirs = gunicorns("apps.journey_wsgi:app", *gunicorn_args)
        ours_at, theirs_at = ("127.0.0.1", ours.port), ("127.0.0.1", theirs.port)
    ours.wait_ready()
    theirs.wait_ready()
    headers = {"X-Forwarded-Proto": "https"}
    expected = _scheme_and_remote(theirs_at, headers)
    if over == "unix" and allow not in (None, "*", "unix"):
        expected = "http"  # gunicorn trusts every UNIX peer whatever the list says; prefork keeps to the list
    if over == "tcp" and allow == "unix":
        expected = "http"  # only UNIX peers listed: a TCP peer is not one
    assert _scheme_and_remote(ours_at, headers) == expected


def _get(port, target):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()  # (bytes += bytes would copy all that came before, each time)
        while chunk := sock.recv(1 << 20):
            data += chunk
    finally:
        sock.close()
    data = bytes(data)
    return data.partition(b"\r\n\r\n")[0], _body(data)


@pytest.mark.parametrize("kind", SERVERS)
def test_file_wrapper_of_files_and_other_objects_of_many_sizes(daemons, gunicorns, kind):  # noqa: F811
    server = start(kind, daemons, gunicorns)
    cases = [("file", size, 0) for size in (0, 1, 32767, 32768, 65537, 16 * 1024 * 1024 + 3)]
    cases += [("file", 100000, 99999), ("file", 100000, 3), ("bytesio", 70000, 0), ("bytesio", 70000, 1),
              ("readonly", 70000, 0), ("readonly", 0, 0)]
    for what, size, offset in cases:
        head, body = _get(server.port, f"/wrapped?{what}-{size}" + (f"-{offset}" if offset else ""))
        assert head.startswith(b"HTTP/1.1 200"), (what, size, head)
        assert body == wrapped_bytes(size)[offset:], (what, size, offset, len(body))
    closes = _get(server.port, "/wrapped-closed?_Closing")[1]
    assert closes == b"2"  # each BytesIO-backed object was closed through the wrapper


@pytest.mark.parametrize("kind", SERVERS)
def test_a_header_name_or_value_that_is_not_a_str_is_a_500_never_its_repr(daemons, gunicorns, kind):  # noqa: F811
    server = start(kind, daemons, gunicorns)
    for target in ("/header-type?bytes", "/header-type?int", "/header-type?list", "/header-type?none",
                   "/header-name-type"):
        head, _ = _get(server.port, target)
        assert head.startswith(b"HTTP/1.1 500"), (target, head)
        assert b"X-Value" not in head and b"X-Name" not in head
    for target in ("/header-type?str", "/header-type?sub"):
        head, body = _get(server.port, target)
        assert head.startswith(b"HTTP/1.1 200") and b"\r\nX-Value: v\r\n" in head + b"\r\n" and body == b"typed"


def _environ_with(port, headers):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    environ = json.loads(_body(data))
    return environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]


@pytest.mark.parametrize("allow,headers,expected", [
    # nginx appends the address it saw: what the client wrote before it is the client's to forge
    (None, {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}, ("203.0.113.9", "http")),
    (None, {"X-Forwarded-For": "203.0.113.9"}, ("203.0.113.9", "http")),
    ("127.0.0.1,10.0.0.0/8", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.1.2.3"}, ("203.0.113.9", "http")),
    ("127.0.0.1,10.0.0.0/8", {"X-Forwarded-For": "10.0.0.7, 10.1.2.3"}, ("10.0.0.7", "http")),
    (None, {"X-Forwarded-For": "not-an-address, 203.0.113.9"}, ("203.0.113.9", "http")),
    # a hop's port and brackets are dropped; a hop that is no address gives no client
    ("127.0.0.1,10.0.0.0/8", {"X-Forwarded-For": "203.0.113.9, 10.0.0.5:1234"}, ("203.0.113.9", "http")),
    (None, {"X-Forwarded-For": "[2001:db8::1]:4711"}, ("2001:db8::1", "http")),
    (None, {"X-Forwarded-For": "203.0.113.9, unknown"}, ("127.0.0.1", "http")),
    (None, {"X-Forwarded-For": "<script>"}, ("127.0.0.1", "http")),
    # the nearest X-Forwarded-Proto value counts; a client's Forwarded is never read
    (None, {"X-Forwarded-Proto": "https, http"}, ("127.0.0.1", "http")),
    (None, {"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=6.6.6.6;proto=https"}, ("203.0.113.9", "http")),
    ("10.0.0.1", {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}, ("127.0.0.1", "http")),
])
def test_the_client_address_is_the_nearest_hop_not_a_trusted_proxy(daemons, allow, headers, expected):
    """As the ASGI side (and uvicorn) read it: walking X-Forwarded-For from
    the right, the first address that is not a trusted proxy is the client; the ones
    before it were written by the client and may be anything."""
    args = ("--forwarded-allow-ips", allow) if allow else ()  # (the whole list in one value: given twice, the last counts)
    d = daemons("--interface", "wsgi", *args, app="apps.journey_wsgi:app", workers=1)
    d.wait_ready()
    assert _environ_with(d.port, headers) == expected


@pytest.mark.parametrize("host,headers,expected", [
    ("example.test:8080", {}, ("example.test", "8080")),
    ("example.test", {}, ("example.test", "80")),  # the scheme's default, never the listening port
    ("example.test", {"X-Forwarded-Proto": "https"}, ("example.test", "443")),
    ("[2001:db8::5]", {}, ("2001:db8::5", "80")),
])
def test_server_name_and_port_come_from_host_whole(daemons, host, headers, expected):
    d = daemons("--interface", "wsgi", app="apps.journey_wsgi:app", workers=1)
    d.wait_ready()
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    try:
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"GET /environ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    environ = json.loads(_body(data))
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == expected


@pytest.mark.parametrize("kind", SERVERS)
def test_wsgi_early_hints_send_a_103_before_the_answer(daemons, gunicorns, kind):  # noqa: F811
    server = start(kind, daemons, gunicorns)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    try:
        sock.sendall(b"GET /early-hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        bad = _get(server.port, "/early-hints?bad")
        bad = bad[0] + b"\r\n\r\n" + bad[1]
    finally:
        sock.close()
    first, _, rest = data.partition(b"\r\n\r\n")
    lines = first.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 103 Early Hints", data
    assert b"</style.css>; rel=preload; as=style" in first and b"</app.js>; rel=preload" in first
    assert b"</late.css>" in rest.partition(b"HTTP/1.1 200")[0], data  # the second 103, before the 200
    assert b"HTTP/1.1 200 OK" in rest and b"final" in rest.partition(b"HTTP/1.1 200 OK")[2]
    assert b"HTTP/1.1 400" in bad and b"Set-Cookie" not in bad.replace(b"Set-Cookie: a=b", b"")
    assert b"a=b" not in bad


def _unix_environ(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(20)
    try:
        sock.connect(path)
        sock.sendall(b"GET /environ HTTP/1.1\r\nHost: app.test:8443\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    return json.loads(_body(data))


def test_the_environ_on_a_unix_socket_next_to_gunicorns(daemons, gunicorns, tmp_path):  # noqa: F811
    ours_at, theirs_at = str(tmp_path / "p.sock"), str(tmp_path / "g.sock")
    ours = daemons("--interface", "wsgi", "--bind", f"unix:{ours_at}", app="apps.journey_wsgi:app", workers=1,
                   bind_socket=False)
    theirs = gunicorns("apps.journey_wsgi:app", unix=theirs_at)
    ours.wait_ready()
    theirs.wait_ready()
    mine, reference = _unix_environ(ours_at), _unix_environ(theirs_at)
    for key in ("REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme", "PATH_INFO"):
        assert mine[key] == reference[key], key
    assert (mine["REMOTE_ADDR"], mine["SERVER_NAME"], mine["SERVER_PORT"]) == ("", "app.test", "8443")
    assert mine["REMOTE_PORT"] == ""  # gunicorn leaves the key out
