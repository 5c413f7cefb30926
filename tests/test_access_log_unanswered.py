"""Which requests get an access log line when their connection closes before they are
answered, and what it says (a server on a loop thread of the test process, its
responses observed through a real AccessLog; real loopback sockets).

Rules under test (server/response.py, server/connection.py): a request the app had and
never answered is logged 499 (its client left) or 444 (the server ended the connection);
the response keeps the status the app set; a request the app never had (held behind a
close-delimited answer) or one answered by a ``clientError`` listener has no such line;
a response cut while its body went out counts the body bytes the kernel took (a
pipelined response waiting its turn, none; a chunked body without its framing)."""

import socket

from conftest import ServerThread
from daemon import wait_until
from harness import reading_client, reset
from prefork import logs

FORMAT = "{U} {s} {b}"


def served(tmp_path, on_request=None, client_error=None):
    path = tmp_path / "access.log"

    def setup(server, st):
        st.access = logs.AccessLog(str(path), FORMAT, 0)
        server.response_observer = st.access.observer(st.loop)
        server.reply_observer = st.access.reply_line
        if on_request is not None:
            server.on("request", lambda req, res: on_request(req, res, st))
        if client_error is not None:
            server.on("clientError", client_error)
    st = ServerThread(setup)
    st.path = path
    return st


def lines(st):
    st.call(st.access.flush)
    return st.path.read_text().splitlines() if st.path.exists() else []


def read_to_close(sock):
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_an_unanswered_request_keeps_the_status_the_app_set_and_is_logged_499(tmp_path):
    def on_request(req, res, st):
        res.status_code = 404  # set; the app is still working when the client leaves
        res.on("close", lambda: st.record("close", res.status_code, res.has_body))
        st.record("request", req.url)
    st = served(tmp_path, on_request)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda e: e[0] == "request")
        reset(client)
        assert st.wait_for(lambda e: e[0] == "close") == ("close", 404, True)
        assert wait_until(lambda: lines(st), 5, what="the line") == ["/x 499 -"]
    finally:
        st.stop()


def test_requests_the_app_never_had_or_a_client_error_listener_answered_have_no_line(tmp_path):
    def on_request(req, res, st):
        st.record("request", req.url)
        if req.url == "/a10":
            res.write(b"close-delimited")  # HTTP/1.0 without a length: /b10 behind it is never dispatched
            res.end()
        elif req.url == "/last":
            res.end()

    def client_error(err, sock):
        sock.end(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    st = served(tmp_path, on_request, client_error)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"GET /a10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                       b"GET /b10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_to_close(client).endswith(b"close-delimited")
        client.close()
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        assert read_to_close(client).startswith(b"HTTP/1.1 400 Bad Request")  # the listener's answer
        client.close()
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        read_to_close(client)
        client.close()
        wait_until(lambda: any(line.startswith("/last ") for line in lines(st)), 5, what="the last line")
        assert [e[1] for e in st.events] == ["/a10", "/upload", "/last"]
        assert lines(st) == ["/a10 200 15", "/last 200 -"], lines(st)
    finally:
        st.stop()


def test_cut_responses_count_the_body_bytes_the_kernel_took(tmp_path):
    big, small = 8 << 20, 1 << 20

    def on_request(req, res, st):
        if req.url == "/a":  # streams (not ended: 10 bytes still to come) ...
            res.set_header("Content-Length", str(big + 10))
            res.write(b"a")
            st.loop.call_later(0.1, res.write, b"a" * (big - 1))
        elif req.url == "/b":  # ... while /b, pipelined, ends at once and waits its turn: never on the socket
            res.end(b"b" * small)
            st.record("b answered")
        elif req.url == "/chunked":
            for _ in range(100_000):
                res.write(b"c" * 64)  # 6.4 MB in chunks of 64 bytes: framing is 7% of the wire
            res.end()
    st = served(tmp_path, on_request)
    try:
        for requests, count in ((b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2),
                                (b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", 3)):
            client = reading_client(st.port, requests)
            if count == 2:
                st.wait_for(lambda e: e == ("b answered",))
            reset(client)
            wait_until(lambda: len(lines(st)) == count, 5, what="the cut lines")
        logged = {line.split()[0]: line.split()[1:] for line in lines(st)}
        # the kernel took what the client read (1 MiB and a little) plus its buffers: a few MiB at most
        assert logged["/a"][0] == "200" and (1 << 20) <= int(logged["/a"][1]) < 6 << 20, logged
        assert logged["/b"] == ["200", "-"], logged
        # the chunked body's count is within the kernel's buffers of what the client read
        assert logged["/chunked"][0] == "200" and (1 << 20) * 64 // 70 <= int(logged["/chunked"][1]) < 6 << 20, logged
    finally:
        st.stop()


def test_every_ended_response_still_going_out_at_a_reset_is_logged(tmp_path):
    """Pipelined /a (8 MiB) and /b both ended while /a's bytes still wait in the socket:
    a reset then logs both, /a with what the kernel took, /b with nothing sent."""
    def on_request(req, res, st):
        delay, body = (0.05, b"a" * (8 << 20)) if req.url == "/a" else (0.1, b"b" * 1000)
        st.loop.call_later(delay, lambda: (res.end(body), st.record("ended", req.url)))
    st = served(tmp_path, on_request)
    try:
        client = reading_client(st.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda e: e == ("ended", "/b"))
        reset(client)
        logged = dict(line.split(" ", 1) for line in wait_until(lambda: (lambda l: l if len(l) == 2 else None)(lines(st)),
                                                                  5, what="two lines"))
    finally:
        st.stop()
    status, size = logged["/a"].split()
    assert status == "200" and (1 << 20) <= int(size) < 6 << 20, logged
    assert logged["/b"] == "200 -", logged
