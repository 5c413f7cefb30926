"""Listeners of the server's other events that raise: no socket is left behind.

Rule under test: an event the server emits outside a request listener's own call
(``clientError``, ``timeout``, ``upgrade``, ``connect``, a ``data``/``end`` delivered on a
later loop turn, a response's ``finish``/``close``, a request's ``close``), whose listener
raises, plain or as a coroutine, is logged and handled: a request still unanswered gets
a 500, a socket the listener owned is destroyed, and the connection is closed or kept in
a state that closes by itself. The worker's loop goes on serving, and every socket is
closed again.
"""

import logging
import socket

import pytest

from hostile import LAST, exchange, open_fds, read_to_close, responses, wait_fds_at_most


def boom(*args):
    raise RuntimeError("a raising listener")


async def async_boom(*args):
    raise RuntimeError("a raising coroutine listener")


def answer(req, res):
    res.end(b"ok")


CASES = {
    # name: (setup(server), bytes sent, server options, check(data))
    "clientError": (lambda s: s.on("clientError", boom), b"GARBAGE\r\n\r\n", {}, "closed"),
    "clientError async": (lambda s: s.on("clientError", async_boom), b"GARBAGE\r\n\r\n", {}, "closed"),
    "timeout": (lambda s: s.on("timeout", boom), b"GET /x HTTP/1.1\r\n", {"timeout": 0.2}, "closed"),
    "timeout async": (lambda s: s.on("timeout", async_boom), b"GET /x HTTP/1.1\r\n", {"timeout": 0.2}, "closed"),
    "upgrade": (lambda s: s.on("upgrade", boom),
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", {}, "closed"),
    "upgrade async": (lambda s: s.on("upgrade", async_boom),
                      b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", {}, "closed"),
    "connect": (lambda s: s.on("connect", boom), b"CONNECT a:1 HTTP/1.1\r\nHost: x\r\n\r\n", {}, "closed"),
    "connect async": (lambda s: s.on("connect", async_boom), b"CONNECT a:1 HTTP/1.1\r\nHost: x\r\n\r\n", {}, "closed"),
    "end delivered later": (
        lambda s: s.on("request", lambda req, res: s.loop.call_soon(lambda: (req.on("end", boom), req.resume()))),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", {}, "500"),
    "data delivered later": (
        lambda s: s.on("request", lambda req, res: s.loop.call_soon(req.on, "data", boom)),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", {}, "500"),
    "response finish": (lambda s: s.on("request", lambda req, res: (res.on("finish", boom), res.end(b"ok"))),
                        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", {}, "200"),
    "response close": (lambda s: s.on("request", lambda req, res: (res.on("close", boom), res.end(b"ok"))),
                       b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", {}, "200"),
    "request close": (lambda s: s.on("request", lambda req, res: (req.on("close", boom), res.end(b"ok"))),
                      b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", {}, "200"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_raising_listener_leaves_no_socket_and_the_server_serves_on(serve, caplog, name):
    caplog.set_level(logging.CRITICAL, "prefork")
    setup, data, options, outcome = CASES[name]

    def configure(server, _st):
        setup(server)
        if not server.listener_count("request"):
            server.on("request", answer)
    st = serve(configure, keep_alive_timeout=0.3, **options)
    st.call(lambda: None)
    baseline = open_fds()
    got = exchange(st.port, data)
    if outcome == "closed":
        assert got == b""
    else:
        assert [status for status, _, _ in responses(got)] == [int(outcome)], got
    wait_fds_at_most(baseline)
    # the server goes on serving
    if name.startswith(("end", "data")):
        st.call(lambda: st.server.remove_all_listeners("request").on("request", answer))
    assert [status for status, _, _ in responses(exchange(st.port, LAST))] == [200]


def test_a_client_error_listener_that_raises_on_a_later_chunk_closes_the_socket(serve, caplog):
    """A clientError listener that keeps the socket gets the error again with each later
    chunk; raising then closes the socket."""
    caplog.set_level(logging.CRITICAL, "prefork")

    def configure(server, st_):
        def first(err, sock):
            st_.record("clientError")
            server.remove_all_listeners("clientError").on("clientError", boom)
        server.on("clientError", first)
    st = serve(configure)
    st.call(lambda: None)
    baseline = open_fds()
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    try:
        sock.sendall(b"GARBAGE\r\n\r\n")
        st.wait_for(lambda event: event == ("clientError",))
        sock.sendall(b"more")
        assert read_to_close(sock) == b""
    finally:
        sock.close()
    wait_fds_at_most(baseline)


def test_a_pipelined_flood_then_fin_is_answered_whole_then_closed(serve):
    """Requests of a read left unparsed while the client did not read are still answered
    after its FIN, and the connection then closes."""
    st = serve(lambda server, _st: server.on("request", lambda req, res: res.end(b"y" * 20000)))
    st.call(lambda: None)
    baseline = open_fds()
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    try:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" * 600)
        sock.shutdown(socket.SHUT_WR)
        data = read_to_close(sock, 30)
    finally:
        sock.close()
    assert len(responses(data)) == 600
    wait_fds_at_most(baseline)


@pytest.mark.parametrize("upgrade, outcome", [(b"websocket", "upgraded"), (b"h2c", "served")])
def test_should_upgrade_callback_picks_the_upgrades_that_leave_http(serve, upgrade, outcome):
    """Node's shouldUpgradeCallback: an upgrade it refuses is a plain request (with the
    bytes after it); one it accepts goes to the ``upgrade`` listener."""
    def configure(server, st_):
        server.should_upgrade_callback = lambda req: req.headers["upgrade"] == "websocket"
        server.on("upgrade", lambda req, sock, head: sock.end(b"upgraded " + bytes(head)))
        server.on("request", answer)
    st = serve(configure)
    st.call(lambda: None)
    baseline = open_fds()
    got = exchange(st.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: " + upgrade + b"\r\n\r\n"
                   + LAST)
    if outcome == "upgraded":
        assert got == b"upgraded " + LAST
    else:
        assert [status for status, _, _ in responses(got)] == [200, 200], got
    wait_fds_at_most(baseline)


def test_an_upgrade_accepted_with_no_upgrade_listener_is_closed(serve):
    """As Node: an upgrade the callback accepts with nobody listening destroys the socket."""
    def configure(server, st_):
        server.should_upgrade_callback = lambda req: True
        server.on("request", answer)
    st = serve(configure)
    st.call(lambda: None)
    baseline = open_fds()
    assert exchange(st.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n") == b""
    wait_fds_at_most(baseline)


def test_a_raising_should_upgrade_callback_serves_the_upgrade_as_a_request(serve, caplog):
    caplog.set_level(logging.CRITICAL, "prefork")

    def configure(server, st_):
        server.should_upgrade_callback = boom
        server.on("upgrade", lambda req, sock, head: sock.end(b"upgraded"))
        server.on("request", answer)
    st = serve(configure)
    st.call(lambda: None)
    baseline = open_fds()
    got = exchange(st.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n" + LAST)
    assert [status for status, _, _ in responses(got)] == [200, 200], got
    wait_fds_at_most(baseline)
