"""A client socket's own listener of its connect's events (``connect``, ``ready``,
``lookup``, ``connectionAttempt``, ``connectionAttemptFailed``) that raises gets the
socket destroyed (logged), as a raising ``data``, ``drain`` or ``timeout`` listener does:
its request gets ``error`` (ECONNRESET) and ``close``. (Node's process would crash.)
prefork left the connect stopped half-way: no error, no close, the socket open, the
request waiting for ever.

A real server on 127.0.0.1 that answers every request."""

import asyncio
import socket

import pytest

import prefork
from test_net_socket_timer_checks import http_server


@pytest.fixture
def port():
    port, close = http_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    yield port
    close()


def refused_address():
    """127.0.0.2 refuses (nothing listens there): a first address whose attempt fails."""
    return "127.0.0.2"


def run(port, event, coroutine=False, options=None):
    """The request's events with a socket listener of ``event`` that raises."""
    async def main():
        events = []
        over = asyncio.get_running_loop().create_future()

        def boom(*args):
            raise RuntimeError("boom")

        async def async_boom(*args):
            raise RuntimeError("boom")
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False, **(options or {})})

        def on_socket(s):
            s.on(event, async_boom if coroutine else boom)
            s.on("close", lambda *a: events.append("socket close"))
        req.on("socket", on_socket)
        req.on("response", lambda res: (events.append(("response", res.status_code)), res.resume()))
        req.on("error", lambda err: events.append(("error", err.code)))
        req.on("close", lambda: (events.append("close"), over.done() or over.set_result(None)))
        try:
            await asyncio.wait_for(over, 5)
        except asyncio.TimeoutError:
            events.append("waiting for ever")
        await asyncio.sleep(0)
        return events, req.socket.destroyed
    return asyncio.run(main())


def two_addresses(host, options, callback):
    callback(None, [{"address": refused_address(), "family": 4}, {"address": "127.0.0.1", "family": 4}])


def one_address(host, options, callback):
    callback(None, [{"address": "127.0.0.1", "family": 4}])


RAISED = ([("error", "ECONNRESET"), "close", "socket close"], True)


@pytest.mark.parametrize("event", ["connect", "ready", "connectionAttempt"])
def test_a_raising_connect_listener_gets_the_socket_destroyed_and_the_request_an_error(port, event):
    assert run(port, event) == RAISED


def test_a_raising_coroutine_connect_listener_gets_the_socket_destroyed():
    with socket.socket() as silent:  # (a server that never answers: only the destroy ends the request)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert run(silent.getsockname()[1], "connect", coroutine=True) == RAISED


def test_a_raising_lookup_listener_gets_the_socket_destroyed(port):
    assert run(port, "lookup", options={"host": "example.invalid", "lookup": one_address}) == RAISED


def test_a_raising_connection_attempt_failed_listener_gets_the_socket_destroyed(port):
    assert run(port, "connectionAttemptFailed", options={"host": "example.invalid", "lookup": two_addresses}) == RAISED


def test_without_a_raising_listener_the_same_requests_are_answered(port):
    answered = ([("response", 200), "close", "socket close"], True)
    assert run(port, "end") == answered
    assert run(port, "end", options={"host": "example.invalid", "lookup": two_addresses}) == answered
