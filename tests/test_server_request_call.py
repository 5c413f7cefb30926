"""The server calls its one 'request' listener without an emit between (request_call.py):
whatever way listeners come and go (on, once, the prepend forms, off, remove_all_listeners,
a once listener taking itself off), each request is told to exactly the listeners an emit
would tell, in emit's order, and a coroutine listener still runs as a task."""

import socket

GET = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n"


def _heard(req, res, name, loop):
    """Notes ``name`` on the request; the first listener of a request answers, on the next
    loop turn (after every listener of the emit), with the names in the order they ran."""
    heard = req.__dict__.setdefault("heard", [])
    if not heard:
        loop.call_soon(lambda: res.end(",".join(heard)))
    heard.append(name)


def test_each_request_is_told_to_the_listeners_an_emit_would_tell(serve):
    st = serve()
    server, loop = st.server, st.loop

    def named(name):
        return lambda req, res: _heard(req, res, name, loop)

    a, b, c, e = named("A"), named("B"), named("C"), named("E")

    async def d(req, res):  # a coroutine listener: its task answers
        res.end("D-task")

    def returns_value(req, res):  # a plain listener's result (not None, no coroutine) is left alone
        _heard(req, res, "F", loop)
        return res

    steps = [
        (lambda: server.on("request", a), "A"),
        (lambda: server.prepend_listener("request", b), "B,A"),
        (lambda: server.off("request", a), "B"),
        (lambda: server.once("request", c), "B,C"),
        (lambda: None, "B"),  # the once listener took itself off
        (lambda: (server.remove_listener("request", b), server.add_listener("request", d)), "D-task"),
        (lambda: (server.remove_all_listeners("request"), server.on("request", a)), "A"),
        (lambda: server.prepend_once_listener("request", e), "E,A"),
        (lambda: None, "A"),
        (lambda: (server.remove_all_listeners(), server.on("request", returns_value)), "F"),
        (lambda: server.on("request", a), "F,A"),
    ]
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    try:
        for i, (change, expected) in enumerate(steps):
            st.call(change)
            sock.sendall(GET % i)
            data = b""
            while not data.endswith(expected.encode()):
                chunk = sock.recv(65536)
                assert chunk, (i, expected, data)
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 OK\r\n"), (i, data)
            body = data.split(b"\r\n\r\n", 1)[1]
            assert body == expected.encode(), (i, expected, data)
    finally:
        sock.close()
    assert st.call(lambda: server.listener_count("request")) == 2
