"""A request whose ``data`` listener paused it after taking a chunk keeps the rest of
its body for its ``resume()``, even once its response is done (Node dumps only a body
nobody began to read: ``_consuming``). prefork resumed it when its response was done
and the kept body passed the high-water mark, so ``data`` kept coming to a listener that
had paused, and the pipelined request behind it was served before the app resumed."""

import socket

BODY = b"x" * 200_000


def read_response(conn, data=b""):
    """One Content-Length response from ``conn``: (its bytes, what follows it)."""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(rest) < length:
        chunk = conn.recv(65536)
        assert chunk, data
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def test_a_reader_that_paused_keeps_the_body_after_its_response(serve):
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/g":
                res.end("g")
                return
            state = {"resumed": False, "before": 0, "after": 0}

            def data(chunk):
                state["after" if state["resumed"] else "before"] += len(chunk)
                st.record("data", state["resumed"])
                if not state["resumed"]:
                    req.pause()
                    if not res.writable_ended:
                        res.end("answered")

            def resume():
                state["resumed"] = True
                req.resume()

            req.on("data", data)
            req.on("end", lambda: st.record("end", state["before"], state["after"]))
            res.on("finish", lambda: server.loop.call_later(0.3, resume))
        server.on("request", on_request)

    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as conn:
        conn.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
                     + b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        first, rest = read_response(conn)
        assert first.endswith(b"\r\n\r\nanswered")
        second, _ = read_response(conn, rest)
        assert second.endswith(b"\r\n\r\ng")
    _, before, after = st.wait_for(lambda event: event[0] == "end")
    assert before + after == len(BODY)
    # one chunk before the pause; the rest only once the app resumed
    assert [event for event in st.events if event[0] == "data"][:2] == [("data", False), ("data", True)]


def test_an_asgi_app_answering_without_reading_a_large_body_keeps_the_connection(serve):
    """The ASGI adapter pauses a body its app does not read yet and lets go of it at
    the response's close: the rest is then discarded and the pipelined request served."""
    import asyncio

    from test_asgi import asgi_server

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/p":
            await asyncio.sleep(0.3)  # the body passes the adapter's mark meanwhile
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": scope["path"][1:].encode() * 2})

    st = asgi_server(serve, app)
    body = b"x" * 1_000_000
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as conn:
        conn.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                     + b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        first, rest = read_response(conn)
        assert first.endswith(b"\r\n\r\npp")
        second, _ = read_response(conn, rest)
        assert second.endswith(b"\r\n\r\ngg")
