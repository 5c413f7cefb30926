"""ASGI HTTP on a real Server on loopback: scope, streaming both ways, disconnects,
backpressure, 100-continue, failures."""

import asyncio
import functools
import http.client
import json
import logging
import socket
import struct

from apps import asgi_apps
from daemon import wait_until
from harness import read_until_close
from prefork.asgi import ASGIAdapter, is_asgi3


def asgi_server(serve, app=asgi_apps.app, **options):
    def setup(server, st):
        st.adapter = ASGIAdapter(app, **options).setup(server)
        server.loop.run_until_complete(st.adapter.startup())
    st = serve(setup)
    stop = st.stop

    def stop_after_shutdown():  # the lifespan ends before the loop does
        asyncio.run_coroutine_threadsafe(st.adapter.shutdown(), st.loop).result(10)
        stop()
    st.stop = stop_after_shutdown
    return st


def get(port, path, method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def reset(sock):
    """Close with a reset (the client is gone, not half-closing)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def raw(port, data, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(data)
    return sock


def test_the_scope_has_every_field_the_spec_names(serve):
    st = asgi_server(serve)
    response, body = get(st.port, "/scope/a%20b%2Fc/%E2%82%AC?x=1&y=%20", headers={"X-Test": "Value"})
    scope = json.loads(body)
    assert response.status == 200
    assert scope["type"] == "http" and scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1" and scope["method"] == "GET" and scope["scheme"] == "http"
    assert scope["path"] == "/scope/a b/c/\u20ac"
    assert scope["raw_path"] == "/scope/a%20b%2Fc/%E2%82%AC"
    assert scope["query_string"] == "x=1&y=%20" and scope["root_path"] == ""
    assert ["x-test", "Value"] in scope["headers"]
    assert scope["client_is_loopback"] and scope["server_port_is_int"]
    assert scope["state_greeting"] == "hello from lifespan"  # the lifespan's state, copied in


def test_root_path_prefixes_path_and_raw_path_and_http_1_0_is_reported(serve):
    st = asgi_server(serve, root_path="/api/")
    sock = raw(st.port, b"GET /scope/x?q HTTP/1.0\r\nHost: h\r\n\r\n")
    head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    sock.close()
    scope = json.loads(body)
    assert scope["root_path"] == "/api" and scope["path"] == "/api/scope/x" and scope["raw_path"] == "/api/scope/x"
    assert scope["http_version"] == "1.0" and scope["query_string"] == "q"


def test_proxy_headers_are_trusted_only_from_allowed_peers(serve):
    trusting = asgi_server(serve)
    distrusting = asgi_server(serve, forwarded_allow_ips=())
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9, 127.0.0.1"}
    assert json.loads(get(trusting.port, "/scope", headers=headers)[1])["scheme"] == "https"
    assert json.loads(get(distrusting.port, "/scope", headers=headers)[1])["scheme"] == "http"


def test_request_and_response_stream_message_by_message(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"POST /duplex HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    received = b""

    def read_until(marker):
        nonlocal received
        while marker not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk

    for word in (b"alpha", b"beta", b"gamma"):
        # each piece is answered before the next is sent: both directions stream
        sock.sendall(b"%x\r\n%s\r\n" % (len(word), word))
        read_until(b"got %d: %s\n" % (len(word), word))
    sock.sendall(b"0\r\n\r\n")
    read_until(b"end\n")
    sock.close()
    assert received.startswith(b"HTTP/1.1 200 OK") and b"Transfer-Encoding: chunked" in received


def test_a_large_body_arrives_whole_in_order(serve):
    st = asgi_server(serve)
    payload = bytes(range(256)) * (32 * 1024)  # 8 MiB
    response, body = get(st.port, "/echo", "POST", payload)
    assert response.status == 200 and body == payload
    response, body = get(st.port, "/chunks", "POST", payload)
    counted = json.loads(body)
    assert counted["total"] == len(payload) and counted["messages"] > 1


def test_http_disconnect_reaches_the_app_when_the_client_goes(serve):
    seen = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        seen.append(await receive())  # the (empty) body
        seen.append(await receive())  # waits for the client to go
    st = asgi_server(serve, app=app)
    sock = raw(st.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    wait_until(lambda: len(seen) == 1, 10, what="the body message")
    reset(sock)
    wait_until(lambda: len(seen) == 2, 10, what="http.disconnect")
    assert seen == [{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}]


def test_disconnect_mid_body_ends_the_receive_loop(serve):
    seen = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return
    st = asgi_server(serve, app=app)
    sock = raw(st.port, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\nabc")
    wait_until(lambda: seen, 10, what="the first body bytes")
    reset(sock)
    wait_until(lambda: seen[-1] == "http.disconnect", 10, what="http.disconnect")
    assert seen[0] == "http.request"


def test_send_waits_while_the_socket_is_backed_up(serve):
    sent = []
    sockets = []
    block = b"z" * (1 << 20)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(64 * len(block)).encode())]})
        for _ in range(64):
            await send({"type": "http.response.body", "body": block, "more_body": True})
            sent.append(sockets[0].buffered_size)  # what the server holds after send returned
        await send({"type": "http.response.body", "body": b""})

    def setup(server, st):
        server.on("request", lambda req, res: sockets.append(req.socket))
        ASGIAdapter(app, lifespan="off").setup(server)
    st = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    wait_until(lambda: len(sent) >= 2, 10, what="two chunks sent")
    total = 0
    while total < 64 * len(block):
        chunk = sock.recv(1 << 20)
        assert chunk
        total += len(chunk)
    sock.close()
    # the last send() returns once its bytes are in the kernel, which may be after the
    # client has read them
    wait_until(lambda: len(sent) == 64, 10, what="every send() returned")
    assert max(sent) <= 2 * len(block), max(sent)  # never more than about a chunk kept


def test_a_pipelined_stream_behind_a_slow_response_is_not_stuck(serve):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(0.2)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
            await send({"type": "http.response.body", "body": b"slow"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(5):  # each over the high-water mark while it waits behind /slow
            await send({"type": "http.response.body", "body": b"x" * 100000, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    st = asgi_server(serve, app=app, lifespan="off")
    sock = raw(st.port, b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
               timeout=20)
    data = read_until_close(sock)
    sock.close()
    first, _, second = data.partition(b"slow")
    assert second.startswith(b"HTTP/1.1 200 OK") and second.endswith(b"0\r\n\r\n")
    assert second.count(b"x") == 500000


def test_100_continue_is_sent_when_the_app_first_receives(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"POST /continue HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += sock.recv(1024)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(b"hello")
    data = b""
    while not data.endswith(b"got 5"):
        data += sock.recv(1024)
    assert data.startswith(b"HTTP/1.1 200 OK")
    sock.close()


def test_an_app_that_never_reads_answers_without_a_100_and_closes(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"POST /no-read HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and b"100 Continue" not in data
    assert b"Connection: close" in data and data.endswith(b"not reading")


def test_an_unread_body_is_dropped_and_the_connection_serves_on(serve):
    st = asgi_server(serve)
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=20)
    conn.request("POST", "/no-read", body=b"u" * (4 << 20))  # far over what is kept for the app
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"not reading"
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.read() == b"Hello, World!"
    conn.close()


def test_an_app_raising_before_the_response_gets_a_500(serve, caplog):
    st = asgi_server(serve)
    with caplog.at_level(logging.ERROR, logger="prefork.asgi"):
        response, body = get(st.port, "/raise-before")
        assert response.status == 500 and body == b"Internal Server Error"
        response, body = get(st.port, "/no-response")
        assert response.status == 500
        wait_until(lambda: "returned without starting response" in caplog.text, 10, what="the log line")
    assert "the ASGI app broke before starting" in caplog.text
    assert get(st.port, "/")[1] == b"Hello, World!"  # the server serves on


def test_an_app_raising_after_the_response_started_closes_the_connection(serve, caplog):
    st = asgi_server(serve)
    sock = raw(st.port, b"GET /raise-after HTTP/1.1\r\nHost: h\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 100" in head
    assert body == b"partial"  # cut short: the client knows the response is broken
    wait_until(lambda: "the ASGI app broke mid-response" in caplog.text, 10, what="the traceback")


def test_a_single_body_gets_a_content_length_and_duplicates_are_kept(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"GET /headers HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                        b"")
    head = read_until_close(sock).partition(b"\r\n\r\n")[0]
    sock.close()
    assert head.startswith(b"HTTP/1.1 201 Created")
    assert b"set-cookie: a=1\r\nset-cookie: b=2" in head and b"x-custom: yes" in head
    sock = raw(st.port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    assert b"Content-Length: 13\r\n" in data and b"Transfer-Encoding" not in data


def test_scopes_and_header_lists_are_not_shared_between_requests_on_a_connection(serve):
    """Scopes of one connection are copies of one template and response header lists
    are remembered: an app that mutates its scope, or sends the same list again, must
    see nothing of the previous request."""
    headers = [(b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"content-type", b"application/json")]

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        seen = {"path": scope["path"], "raw_path": scope["raw_path"].decode(), "query": scope["query_string"].decode(),
                "method": scope["method"], "client_is_loopback": scope["client"][0] == "127.0.0.1",
                "extra": scope.get("extra"), "state": dict(scope["state"]),
                "headers": [[n.decode(), v.decode()] for n, v in scope["headers"] if n.startswith(b"x-")]}
        scope["path"], scope["client"], scope["extra"] = "mutated", ("10.0.0.9", 1), True
        scope["state"]["leak"] = True
        scope["headers"].append((b"x-leak", b"1"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    st = asgi_server(serve, app=app)
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
    answers = []
    for method, target, extra in (("GET", "/a%20b?x=1", "one"), ("POST", "/a%20b?x=1", "two"), ("GET", "/c", "three")):
        conn.request(method, target, headers={"X-Extra": extra})
        response = conn.getresponse()
        assert response.msg.get_all("set-cookie") == ["a=1", "b=2"]
        answers.append(json.loads(response.read()))
    conn.close()
    assert [a["path"] for a in answers] == ["/a b", "/a b", "/c"]
    assert [a["raw_path"] for a in answers] == ["/a%20b", "/a%20b", "/c"]
    assert [a["query"] for a in answers] == ["x=1", "x=1", ""]
    assert [a["method"] for a in answers] == ["GET", "POST", "GET"]
    assert [a["headers"] for a in answers] == [[["x-extra", "one"]], [["x-extra", "two"]], [["x-extra", "three"]]]
    assert all(a["client_is_loopback"] and a["extra"] is None and a["state"] == {} for a in answers)


def test_head_keeps_the_length_and_sends_no_body(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    first, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length: 24" in first
    assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"Hello, World!")


def test_pipelined_requests_are_answered_in_order(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"GET /sleep?t=0.3 HTTP/1.1\r\nHost: h\r\n\r\n"
                        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    assert data.index(b"slept") < data.index(b"Hello, World!")


def test_a_non_websocket_upgrade_is_served_as_http(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: h2c\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"Hello, World!")


def test_a_websocket_upgrade_that_is_not_a_get_is_refused_clearly(serve):
    st = asgi_server(serve)
    sock = raw(st.port, b"POST / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        b"Content-Length: 0\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400 Bad Request") and b"Unsupported upgrade request." in data
    head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert any(line.startswith(b"Date: ") for line in head), head  # as every answer of the server
    assert b"Connection: close" in head


def test_is_asgi3_tells_asgi_callables_from_others():
    class App:
        async def __call__(self, scope, receive, send):
            pass
    assert is_asgi3(asgi_apps.app) and is_asgi3(App()) and is_asgi3(functools.partial(asgi_apps.app))
    assert not is_asgi3(App) and not is_asgi3(lambda environ, start_response: [])
