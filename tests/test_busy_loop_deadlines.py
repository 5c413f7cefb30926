"""Deadlines that pass while the worker's loop is busy (a handler that blocks it), for a
peer whose bytes arrived in time but were not read yet: uvloop runs due timers before
it polls for input, so the headers/request sweep, the PROXY header's timer and the TLS
handshake's timer ran before the read and refused connections the default loop serves.
Each test runs on both loops. Also: a reply's access-log duration is never negative
(uvloop's ``loop.time()`` lags ``time.monotonic()`` by up to a millisecond)."""

import socket
import ssl
import threading

import pytest

from daemon import wait_until
from harness import read_until_close
from test_hostile_net_tls import client_context, pki  # noqa: F401  (pki: a fixture)

LOOPS = ["asyncio", "uvloop"]
BLOCK = 1.5  # seconds the /block handler holds the loop


def _blocking_app(entered):
    def on_request(req, res):
        if req.url == "/block":
            entered.set()
            import time
            time.sleep(BLOCK)  # the loop is busy: nothing is read meanwhile
        res.end("ok")
    return on_request


def _block(port):
    """Starts a request that blocks the server's loop; returns its thread."""
    def run():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            read_until_close(sock)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _accepted(st, count=1):
    """Waits until the server holds ``count`` connections (a PROXY reader or a TLS
    socket in its handshake counts)."""
    wait_until(lambda: st.call(lambda: st.server.connections) >= count, 5, 0.01, "the connection accepted")


def _get_over_tls(sock):
    """A GET with ``Connection: close`` on a TLS socket; what came until the close."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ssl.SSLEOFError:
            break
        if not chunk:
            break
        answer += chunk
    return answer


def _status(data):
    return data.split(b"\r\n", 1)[0]


@pytest.fixture(params=LOOPS)
def on_loop(request, monkeypatch):
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv("PREFORK_TEST_LOOP", request.param)
    return request.param


def test_head_completed_in_time_while_the_loop_was_busy_is_served(serve, on_loop):
    entered = threading.Event()
    st = serve(lambda server, st: server.on("request", _blocking_app(entered)),
               headers_timeout=1.0, request_timeout=30.0, connections_checking_interval=0.1)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as slow:
        slow.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n")  # the head's start: its clock runs
        blocker = _block(st.port)
        try:
            assert entered.wait(5)
            slow.sendall(b"Connection: close\r\n\r\n")  # the head's end, well within headers_timeout
            answer = read_until_close(slow)
        finally:
            blocker.join(10)
    assert _status(answer) == b"HTTP/1.1 200 OK", answer


def test_proxy_header_sent_in_time_while_the_loop_was_busy_is_read(serve, on_loop):
    entered = threading.Event()
    st = serve(lambda server, st: server.on("request", _blocking_app(entered)), proxy_protocol_timeout=1.0)
    listener = socket.create_server(("127.0.0.1", 0))
    st.call(lambda: st.server.listen(sock=listener, proxy_protocol=True))
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        _accepted(st)  # the header's timer runs
        blocker = _block(st.port)
        try:
            assert entered.wait(5)
            sock.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\n"
                         b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = read_until_close(sock)
        finally:
            blocker.join(10)
    assert _status(answer) == b"HTTP/1.1 200 OK", answer


def test_tls_hello_sent_in_time_while_the_loop_was_busy_is_answered(serve, on_loop, pki):  # noqa: F811
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    entered = threading.Event()
    failures = []

    def setup(server, st):
        server.on("request", _blocking_app(entered))
        server.on("tlsClientError", lambda err, sock: failures.append(err.code))
    st = serve(setup)
    listener = socket.create_server(("127.0.0.1", 0))
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}), 1.0)
    st.call(lambda: st.server.listen(sock=listener, tls=tls))
    port = listener.getsockname()[1]
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    _accepted(st)  # the handshake's timer runs
    blocker = _block(st.port)
    try:
        assert entered.wait(5)
        try:
            sock = client_context(pki).wrap_socket(raw, server_hostname="localhost")
        except (ssl.SSLError, OSError):
            raw.close()
            raise
        with sock:
            answer = _get_over_tls(sock)
    finally:
        blocker.join(10)
    assert _status(answer) == b"HTTP/1.1 200 OK", (answer, failures)
    assert failures == []


def test_reply_durations_are_never_negative(serve, on_loop):
    durations = []
    st = serve(lambda server, st: setattr(server, "reply_observer",
                                          lambda req, res, duration: durations.append(duration)))
    for _ in range(30):
        with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: y\r\n\r\n")
            assert _status(read_until_close(sock)) == b"HTTP/1.1 400 Bad Request"
    st.call(lambda: None)
    assert len(durations) == 30
    assert min(durations) >= 0, sorted(durations)[:5]


def _tls_server(serve, pki, handshake_timeout, **options):  # noqa: F811
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    replies = []

    def setup(server, st):
        server.on("request", lambda req, res: res.end("ok"))
        server.reply_observer = lambda req, res, duration: replies.append(res.status_code)
    st = serve(setup, connections_checking_interval=0.1, **options)
    listener = socket.create_server(("127.0.0.1", 0))
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}), handshake_timeout)
    st.call(lambda: st.server.listen(sock=listener, tls=tls))
    return st, listener.getsockname()[1], replies


def test_the_head_clock_of_a_tls_connection_starts_at_the_handshake_end(serve, pki):  # noqa: F811
    """Node's https server starts its HTTP connection (and headersTimeout) at
    secureConnection: a client whose handshake ends after headers_timeout still has the
    whole of it for its first head (it got a 408 before sending a byte of HTTP)."""
    import time
    st, port, replies = _tls_server(serve, pki, 10.0, headers_timeout=1.0)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    time.sleep(1.5)  # the client is slow to start its handshake: longer than headers_timeout
    with client_context(pki).wrap_socket(raw, server_hostname="localhost") as sock:
        answer = _get_over_tls(sock)
    assert _status(answer) == b"HTTP/1.1 200 OK", answer
    assert replies == []


def test_a_stalled_handshake_is_one_tls_failure_not_also_a_408(serve, pki):  # noqa: F811
    st, port, replies = _tls_server(serve, pki, 1.0, headers_timeout=0.3)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01\x00")  # the start of a ClientHello, and nothing more
        assert raw.recv(100) == b""  # closed at the handshake's timeout
    errors = st.call(lambda: (dict(st.server.stats.tls_handshake_failures), dict(st.server.stats.client_errors)))
    assert errors == ({"ERR_TLS_HANDSHAKE_TIMEOUT": 1}, {}), errors
    assert replies == []


def test_plain_http_to_a_tls_port_gets_its_access_log_line(serve, pki):  # noqa: F811
    st, port, replies = _tls_server(serve, pki, 10.0)
    seen = []
    st.call(lambda: setattr(st.server, "reply_observer",
                            lambda req, res, duration: seen.append((req.request_text(req.url), res.status_code,
                                                                   duration >= 0, res.bytes_sent))))
    for request in (b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", b"BREW /pot HTTP/1.0\r\n\r\n", b"Garbage\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            answer = read_until_close(sock)
            assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    st.call(lambda: None)
    body = len(answer.partition(b"\r\n\r\n")[2])  # (the access log's {b}: the body's bytes, as nginx logs them)
    assert body > 0
    assert seen == [("GET /plain HTTP/1.1", 400, True, body), ("BREW /pot HTTP/1.0", 400, True, body),
                    ("-", 400, True, body)], seen
