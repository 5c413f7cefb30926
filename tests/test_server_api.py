"""The Python API of the event server, against a real server on 127.0.0.1.

Each test starts a Server whose loop runs in a background thread, talks to it with raw
sockets, and asserts bytes, events and connection fate.
"""

import logging
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import prefork
from harness import mask

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def connect(st_):
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until(sock, needle, timeout=5):
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_all(sock, timeout=5):
    """Read until the server closes; returns (bytes, closed)."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def hello(req, res):
    res.end("hello")


def test_one_socket_object_per_connection(serve):
    def setup(server, st_):
        def on_connection(sock):
            sock.tag = "mine"
            st_.record("connection", sock)

        def on_request(req, res):
            st_.record("request", req.socket, req.socket.tag, req.socket.remote_family,
                       req.socket.remote_address, req.socket.remote_port)
            res.end("ok")
        server.on("connection", on_connection)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(GET + GET)
    read_until(sock, b"ok", 5)
    st_.wait_for(lambda e: e[0] == "request" and len([x for x in st_.events if x[0] == "request"]) == 2)
    conn_sock = [e for e in st_.events if e[0] == "connection"][0][1]
    requests = [e for e in st_.events if e[0] == "request"]
    assert all(e[1] is conn_sock and e[2] == "mine" for e in requests)
    assert requests[0][3:] == ("IPv4", "127.0.0.1", sock.getsockname()[1])
    sock.close()


def test_listening_is_async_and_address_is_nodes():
    server = prefork.create_server(hello)
    fired = []
    server.listen(0, callback=lambda: fired.append("listening"))
    assert fired == []  # not inside listen()
    addr = server.address()
    assert set(addr) == {"address", "family", "port"}
    assert addr["address"] == "127.0.0.1" and addr["family"] == "IPv4" and addr["port"] > 0
    server.loop.call_soon(server.close, lambda err: server.loop.stop())
    server.loop.run_forever()
    assert fired == ["listening"]


def test_listen_on_a_prebound_socket_and_ipv6():
    sock = socket.socket(socket.AF_INET6)
    sock.bind(("::1", 0))
    sock.listen(16)
    server = prefork.create_server(lambda req, res: res.end(req.socket.remote_family))
    server.listen(sock=sock)
    port = server.address()["port"]
    assert server.address()["family"] == "IPv6"
    got = []

    def client():
        c = socket.create_connection(("::1", port), timeout=5)
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got.append(read_all(c)[0])
        c.close()
        server.loop.call_soon_threadsafe(server.close, lambda err: server.loop.stop())
    import threading
    threading.Thread(target=client).start()
    server.loop.run_forever()
    assert got[0].endswith(b"IPv6")


def test_close_on_a_stopped_server_reports_not_running():
    server = prefork.create_server()
    results = []
    server.on("close", lambda: results.append("close"))
    server.close(lambda err: (results.append(err.code), server.loop.stop()))
    server.loop.run_forever()
    assert results == ["close", "ERR_SERVER_NOT_RUNNING"]


def test_headers_timeout_must_not_exceed_request_timeout():
    with pytest.raises(ValueError) as info:
        prefork.create_server(headers_timeout=5, request_timeout=1)
    assert info.value.code == "ERR_OUT_OF_RANGE"
    with pytest.raises(TypeError):
        prefork.create_server(keepalive_timeout=1)


def test_knobs_are_attributes_that_apply_to_later_requests(serve):
    st_ = serve(lambda server, st_: server.on("request", hello))
    sock = connect(st_)
    sock.sendall(GET)
    assert b"Keep-Alive: timeout=5\r\n" in read_until(sock, b"hello")
    st_.call(setattr, st_.server, "keep_alive_timeout", 2.5)
    st_.call(setattr, st_.server, "max_requests_per_socket", 10)
    sock.sendall(GET)
    assert b"Keep-Alive: timeout=2, max=10\r\n" in read_until(sock, b"hello")
    sock.close()


def test_request_fields_and_body_stream(serve):
    def setup(server, st_):
        def on_request(req, res):
            st_.record("request", req.method, req.url, req.http_version, req.headers, req.raw_headers,
                       req.complete)
            chunks = []
            req.on("data", chunks.append)
            req.on("end", lambda: (st_.record("end", b"".join(chunks), req.complete),
                                   res.end(b"got " + b"".join(chunks))))
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"POST /p?q=1 HTTP/1.1\r\nHost: x\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nX-A: 1\r\nx-a: 2\r\n"
                 b"Content-Length: 6\r\n\r\nabc")
    st_.wait_for(lambda e: e[0] == "request")
    sock.sendall(b"def")
    assert read_until(sock, b"got abcdef").endswith(b"got abcdef")
    request = [e for e in st_.events if e[0] == "request"][0]
    assert request[1:4] == ("POST", "/p?q=1", "1.1")
    assert request[4] == {"host": "x", "set-cookie": ["a", "b"], "x-a": "1, 2", "content-length": "6"}
    assert request[5] == ["Host", "x", "Set-Cookie", "a", "Set-Cookie", "b", "X-A", "1", "x-a", "2",
                          "Content-Length", "6"]
    assert request[6] is False  # complete is False during 'request'
    assert [e for e in st_.events if e[0] == "end"] == [("end", b"abcdef", True)]
    sock.close()


def test_unread_body_is_parsed_past_and_end_still_fires(serve):
    def setup(server, st_):
        def on_request(req, res):
            req.on("end", lambda: st_.record("end", req.url))
            res.end("r" + req.url)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_until(sock, b"r/b")
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.endswith(b"r/b")
    st_.wait_for(lambda e: e == ("end", "/b"))
    st_.wait_for(lambda e: e == ("end", "/a"))  # the unread body's 'end' follows a loop turn later
    sock.close()


def test_paused_body_is_kept_for_a_late_reader(serve):
    def setup(server, st_):
        def on_request(req, res):
            req.pause()

            def later():
                chunks = []
                req.on("data", chunks.append)
                req.on("end", lambda: res.end(b"late " + b"".join(chunks)))
            server.loop.call_later(0.05, later)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    time.sleep(0.01)  # noqa: a second TCP segment, not a wait for a condition
    sock.sendall(b"2\r\nde\r\n0\r\n\r\n")
    assert read_until(sock, b"late abcde").endswith(b"late abcde")
    sock.close()


def test_finish_is_never_synchronous(serve):
    def setup(server, st_):
        def on_request(req, res):
            order = []
            res.on("finish", lambda: (order.append("finish"), st_.record("order", tuple(order))))
            res.end("x")
            order.append("after end()")
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(GET)
    read_until(sock, b"\r\n\r\nx")
    assert st_.wait_for(lambda e: e[0] == "order") == ("order", ("after end()", "finish"))
    sock.close()


def test_listener_exception_gives_500_and_server_keeps_serving(serve, caplog):
    def setup(server, st_):
        def on_request(req, res):
            if req.url == "/boom":
                res.set_header("X-Partial", "1")
                raise RuntimeError("handler bug")
            if req.url == "/boom-late":
                res.write("partial")
                raise RuntimeError("late bug")
            res.end("fine")
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n" + GET)
    data = mask(read_until(sock, b"fine"))
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\nDate: <DATE>\r\nConnection: keep-alive\r\n"
                           b"Keep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK")
    assert b"X-Partial" not in data
    sock.close()
    sock = connect(st_)
    sock.sendall(b"GET /boom-late HTTP/1.1\r\nHost: x\r\n\r\n")
    data, closed = read_all(sock)
    assert closed and b"partial" in data and b"500" not in data
    sock = connect(st_)
    sock.sendall(GET)
    assert read_until(sock, b"fine").endswith(b"fine")
    assert "handler bug" in caplog.text and "late bug" in caplog.text


def test_write_backpressure_and_drain(serve):
    def setup(server, st_):
        def on_request(req, res):
            big = b"x" * 65536
            results = []
            while True:
                ok = res.write(big)
                results.append(ok)
                if not ok or len(results) > 200:
                    break
            st_.record("writes", results)
            res.on("drain", lambda: (st_.record("drain"), res.end("END")))
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(GET)
    writes = st_.wait_for(lambda e: e[0] == "writes")[1]
    assert writes[-1] is False and len(writes) < 200
    data = read_until(sock, b"END\r\n0\r\n\r\n", timeout=10)
    assert data.endswith(b"3\r\nEND\r\n0\r\n\r\n")
    st_.wait_for(lambda e: e[0] == "drain")
    sock.close()


def test_close_stops_accepting_closes_idle_and_serves_in_flight(serve):
    def setup(server, st_):
        server.on("request", lambda req, res: server.loop.call_later(0.3, res.end, "late")
                  if req.url == "/slow" else res.end("now"))
        server.on("close", lambda: st_.record("close"))
    st_ = serve(setup)
    idle = connect(st_)
    idle.sendall(GET)
    read_until(idle, b"now")
    fresh = connect(st_)
    busy = connect(st_)
    busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)  # noqa: let the request reach the handler; the assertions below wait on data
    st_.call(st_.server.close)
    assert read_all(idle, 2) == (b"", True)  # idle: closed at once, no bytes
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", st_.port), timeout=2)
    data = read_until(busy, b"late")
    assert b"Connection: keep-alive" in data and data.endswith(b"late")  # served, kept alive
    with pytest.raises(TimeoutError):
        st_.wait_for(lambda e: e == ("close",), timeout=0.2)
    st_.call(st_.server.close_all_connections)
    assert read_all(fresh, 2) == (b"", True)
    st_.wait_for(lambda e: e == ("close",))


def test_close_idle_connections_spares_busy_and_fresh(serve):
    def setup(server, st_):
        server.on("request", lambda req, res: server.loop.call_later(0.3, res.end, "late")
                  if req.url == "/slow" else res.end("now"))
    st_ = serve(setup)
    idle = connect(st_)
    idle.sendall(GET)
    read_until(idle, b"now")
    fresh = connect(st_)
    partial = connect(st_)
    partial.sendall(b"GET / HTTP/1.1\r\n")
    busy = connect(st_)
    busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)  # noqa: the request must be in the handler; assertions wait on data
    st_.call(st_.server.close_idle_connections)
    assert read_all(idle, 2) == (b"", True)
    assert read_until(busy, b"late").endswith(b"late")
    assert read_all(fresh, 0.2) == (b"", False)
    assert read_all(partial, 0.2) == (b"", False)
    assert st_.call(lambda: st_.server.connections) == 3


def test_handed_off_sockets_survive_close_all_and_hold_close(serve):
    def setup(server, st_):
        def on_upgrade(req, sock, head):
            st_.record("upgrade", sock)
            sock.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
            sock.on("data", sock.write)
            sock.on("end", lambda: st_.record("client-end", sock.writable))
        server.on("upgrade", on_upgrade)
        server.on("close", lambda: st_.record("close"))
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")
    read_until(sock, b"\r\n\r\n")
    st_.call(st_.server.close_all_connections)
    st_.call(st_.server.close)
    sock.sendall(b"echo")
    assert read_until(sock, b"echo") == b"echo"
    with pytest.raises(TimeoutError):
        st_.wait_for(lambda e: e == ("close",), timeout=0.2)
    sock.shutdown(socket.SHUT_WR)  # half-open: the server may still write
    assert st_.wait_for(lambda e: e[0] == "client-end") == ("client-end", True)
    server_sock = st_.wait_for(lambda e: e[0] == "upgrade")[1]
    st_.call(server_sock.end, b"bye")
    assert read_all(sock) == (b"bye", True)
    st_.wait_for(lambda e: e == ("close",))


def test_bytes_before_a_data_listener_are_kept(serve):
    def setup(server, st_):
        def on_connect(req, sock, head):
            st_.record("head", head)
            sock.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            server.loop.call_later(0.2, lambda: sock.on("data", lambda d: st_.record("data", d)))
        server.on("connect", on_connect)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"CONNECT h:1 HTTP/1.1\r\nHost: h\r\n\r\n")
    read_until(sock, b"\r\n\r\n")
    sock.sendall(b"early")
    assert st_.wait_for(lambda e: e[0] == "data") == ("data", b"early")
    sock.close()


def test_deviation_response_before_data_after_close_is_kept(serve):
    def setup(server, st_):
        server.on("request", lambda req, res: req.resume().on("end", lambda: server.loop.call_later(0.05, res.end, "first")))
        server.on("clientError", lambda err, s: st_.record("clientError", err.code))
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    data, closed = read_all(sock)
    assert closed and mask(data) == (b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\n"
                                     b"Content-Length: 5\r\n\r\nfirst")
    assert not [e for e in st_.events if e[0] == "clientError"]


def test_deviation_unlistened_upgrade_keeps_body_and_pipelined_request(serve):
    def setup(server, st_):
        def on_request(req, res):
            chunks = []
            req.on("data", chunks.append)
            req.on("end", lambda: res.end(req.url.encode() + b":" + b"".join(chunks)))
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nUpgrade: ws\r\nConnection: upgrade\r\nContent-Length: 3\r\n\r\nabc"
                 b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_until(sock, b"/next:")
    assert b"/up:abc" in data and data.endswith(b"/next:")
    sock.close()


def test_client_error_listener_gets_nodes_fields(serve):
    def setup(server, st_):
        def on_client_error(err, sock):
            st_.record("clientError", err.code, err.reason, err.message, err.bytes_parsed, err.raw_packet, sock)
            sock.end(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        server.on("clientError", on_client_error)
        server.on("connection", lambda s: st_.record("connection", s))
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n")
    data, closed = read_all(sock)
    assert data.startswith(b"HTTP/1.1 400 Bad Request") and closed
    event = st_.wait_for(lambda e: e[0] == "clientError")
    assert event[1:6] == ("HPE_INVALID_HEADER_TOKEN", "Invalid header value char",
                          "Parse Error: Invalid header value char", 22, b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n")
    assert event[6] is st_.wait_for(lambda e: e[0] == "connection")[1]


def test_timeout_event_and_set_timeout(serve):
    def setup(server, st_):
        server.set_timeout(0.2, lambda s: (st_.record("timeout", s.remote_port), s.destroy()))
    st_ = serve(setup)
    sock = connect(st_)
    start = time.monotonic()
    assert read_all(sock, 3) == (b"", True)
    assert 0.15 < time.monotonic() - start < 1.5
    assert st_.wait_for(lambda e: e[0] == "timeout")[1] == sock.getsockname()[1]


def test_response_api(serve):
    def setup(server, st_):
        def on_request(req, res):
            res.set_header("X-Num", 5)
            res.set_header("x-list", ["a", "b"])
            st_.record("api", res.get_header("X-NUM"), res.has_header("x-list"), res.get_headers(),
                       res.headers_sent)
            res.remove_header("x-list")
            with pytest.raises(ValueError):
                res.set_header("Bad Name", "v")
            with pytest.raises(ValueError):
                res.set_header("X-Inject", "a\r\nb: c")
            res.status_code = 201
            res.write_head(201, "Made", {"X-More": "1"})
            with pytest.raises(ValueError):
                res.set_header("X-Late", "1")
            st_.record("sent", res.headers_sent, res.writable_ended)
            res.end(b"done")
            st_.record("ended", res.writable_ended)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(GET)
    data = mask(read_until(sock, b"0\r\n\r\n"))
    assert data == (b"HTTP/1.1 201 Made\r\nX-Num: 5\r\nX-More: 1\r\nDate: <DATE>\r\nConnection: keep-alive\r\n"
                    b"Keep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndone\r\n0\r\n\r\n")
    api = st_.wait_for(lambda e: e[0] == "api")
    assert api[1:] == (5, True, {"x-num": 5, "x-list": ["a", "b"]}, False)
    assert st_.wait_for(lambda e: e[0] == "sent") == ("sent", True, False)
    assert st_.wait_for(lambda e: e[0] == "ended") == ("ended", True)


def test_accept_survives_fd_exhaustion_and_bad_connections(serve, caplog):
    st_ = serve(lambda server, st_: server.on("request", hello))
    for _ in range(5):
        s = connect(st_)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(b"GET / HT")
        s.close()  # RST mid-request
    sock = connect(st_)
    sock.sendall(GET)
    assert read_until(sock, b"hello").endswith(b"hello")
    assert "internal error" not in caplog.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=400))
def test_arbitrary_bytes_never_break_the_server(serve_once, data):
    st_, caplog = serve_once
    sock = connect(st_)
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        read_all(sock, 2)
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    check = connect(st_)
    check.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data_back, closed = read_all(check)
    check.close()
    assert data_back.endswith(b"hello") and closed
    assert "internal error" not in caplog.text and "Traceback" not in caplog.text


@pytest.fixture(scope="module")
def serve_once():
    from conftest import ServerThread

    class Capture(logging.Handler):
        def __init__(self):
            super().__init__()
            self.text = ""

        def emit(self, record):
            self.text += self.format(record) + "\n"
    handler = Capture()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("prefork").addHandler(handler)
    st_ = ServerThread(lambda server, st_: server.on("request", hello))
    yield st_, handler
    st_.stop()
    logging.getLogger("prefork").removeHandler(handler)
