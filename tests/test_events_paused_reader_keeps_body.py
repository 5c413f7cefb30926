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


def test_a_paused_reader_taking_its_data_listener_off_before_any_chunk_was_kept_serves_on(serve):
    """A reader that pauses in its first ``data`` and takes its listener off (the rest is
    not wanted) lets the body go: nothing raises, the pipelined request is served."""
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/g":
                return res.end("g")

            def data(chunk):
                req.pause()
                req.off("data", data)
                st.record("off")
                res.end("done")
            req.on("data", data)
        server.on("request", on_request)

    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as conn:
        conn.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        first, rest = read_response(conn)
        assert first.endswith(b"\r\n\r\ndone")
        conn.sendall(b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        second, _ = read_response(conn, rest)
        assert second.endswith(b"\r\n\r\ng")
    assert ("off",) in st.events


def test_an_asgi_app_answering_a_large_unread_upload_with_a_large_body_does_not_deadlock(serve, caplog):
    """The client sends its whole upload before it reads (as requests does); the app
    answers without reading it, with more than the socket buffers hold: the rest of the
    upload is dropped as soon as the answer is complete, so neither side waits on the
    other (it waited for the answer's close, which waited for the client to read)."""
    import asyncio
    import threading

    from test_asgi import asgi_server

    answer = b"e" * 8_000_000

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/upload":
            await asyncio.sleep(0.3)  # (an auth check, say) the body not read
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-length", str(len(answer)).encode())]})
            await send({"type": "http.response.body", "body": answer})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    st = asgi_server(serve, app)
    upload = 20_000_000
    with socket.create_connection(("127.0.0.1", st.port), timeout=20) as conn:
        sent = threading.Event()

        def send_all():
            conn.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % upload + b"u" * upload
                         + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            sent.set()
        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        assert sent.wait(20), "the upload never went out: the server stopped reading it"
        first, rest = read_response(conn)
        assert first.startswith(b"HTTP/1.1 413 ") and first.endswith(answer)
        second, _ = read_response(conn, rest)
        assert second.endswith(b"\r\n\r\nok")
    assert "error in a request listener" not in caplog.text
