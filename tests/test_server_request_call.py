"""The server calls its one 'request' listener without an emit between (request_call.py):
whatever way listeners come and go (on, once, the prepend forms, off, remove_all_listeners,
a once listener taking itself off), each request is told to exactly the listeners an emit
would tell, in emit's order, and a coroutine listener still runs as a task."""

import socket

import pytest

from daemon import wait_until

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


def _raises(*args):
    raise RuntimeError("a 'removeListener' listener fails")


REMOVALS = {
    "off": lambda server, a: server.off("request", a),
    "remove_all_listeners(request)": lambda server, a: server.remove_all_listeners("request"),
}


def test_a_listener_taken_off_is_not_called_though_a_remove_listener_listener_raised(serve):
    for how, remove in REMOVALS.items():
        st = serve()
        server = st.server
        told, sockets = [], []
        a = lambda req, res: told.append(req.url)  # noqa: E731
        st.call(server.on, "request", a)
        st.call(server.on, "connection", sockets.append)
        st.call(server.on, "removeListener", _raises)
        with pytest.raises(RuntimeError):
            st.call(remove, server, a)
        assert st.call(server.listener_count, "request") == 0, how
        request = GET % 1
        sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        try:
            sock.sendall(request)
            # the read that brings the request dispatches it in the same loop turn:
            # once the server's socket has read every byte, a listener would have run
            wait_until(lambda: sockets and st.call(lambda: sockets[0].bytes_read) >= len(request), 5,
                       what=f"the server reading the request ({how})")
            st.call(lambda: None)
            assert told == [], how
        finally:
            sock.close()
