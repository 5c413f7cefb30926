"""The client's awaitables against raw servers on 127.0.0.1: ``await req`` always
settles (the response, the request's error, or ECONNRESET when it closed with neither,
awaited before or after the events), a cancelled await takes the request and its
socket with it, and ``res.read()`` survives a cancelled read."""

import asyncio
import logging
import socket
import time

import pytest

import prefork
from prefork.http.errors import HTTPError
from test_client import ScriptedServer

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def refused_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
    yield sock.getsockname()[1]
    sock.close()


def run(coroutine):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(coroutine, 10))
    finally:
        loop.close()


async def until(predicate, seconds=5):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def outcome(req):
    """What awaiting the request gives, within 3 s (a hang fails)."""
    try:
        res = await asyncio.wait_for(req.response(), 3)
    except HTTPError as err:
        return ("raised", err.code, err.message)
    return ("response", res.status_code)


def test_an_abort_before_a_socket_settles_with_socket_hang_up():
    async def main():
        req = prefork.request("http://127.0.0.1:9/")
        req.end()
        req.abort()
        early = await outcome(req)
        assert req._closed
        return early, await outcome(req)  # and again, after the close
    assert run(main()) == (("raised", "ECONNRESET", "socket hang up"),) * 2


@pytest.mark.parametrize("listener", [False, True], ids=["no listener", "connect listener"])
def test_a_connect_answer_settles(server, listener):
    """CONNECT: the head a ``connect`` listener took; nobody listening closes the
    request without ``response`` or ``error``: ECONNRESET."""
    server.serve([("head",), ("send", b"HTTP/1.1 200 Connection established\r\n\r\n"), ("hold", 5)])

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "method": "CONNECT",
                               "path": "example.com:443", "agent": False})
        if listener:
            req.on("connect", lambda res, sock, head: sock.destroy())
        req.end()
        return await outcome(req), await outcome(req)
    expected = ("response", 200) if listener else ("raised", "ECONNRESET", "socket hang up")
    assert run(main()) == (expected, expected)
    server.wait()


def test_an_unlistened_upgrade_settles(server):
    server.serve([("head",), ("send", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"),
                  ("hold", 5)])

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False,
                               "headers": {"Connection": "upgrade", "Upgrade": "x"}})
        req.end()
        return await outcome(req)
    assert run(main()) == ("raised", "ECONNRESET", "socket hang up")
    server.wait()


def test_an_await_after_the_error_was_emitted_raises_it(refused_port):
    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": refused_port, "agent": False})
        seen = []
        req.on("error", seen.append)
        req.end()
        await until(lambda: req._closed)
        assert [err.code for err in seen] == ["ECONNREFUSED"]
        first = await outcome(req)
        try:
            await req
        except HTTPError as err:
            assert err is not seen[0] and err.code == "ECONNREFUSED"  # a copy, raised afresh
        return first
    code = run(main())
    assert code[:2] == ("raised", "ECONNREFUSED")


def test_a_cancelled_await_destroys_the_request_and_its_socket(server, caplog):
    """``asyncio.wait_for(req.response(), t)`` timing out closes the connection (the
    server sees the FIN at once), and the destroy's ``error`` is not reported as
    unhandled: the awaitable that caused it listens."""
    server.serve([("head",), ("hold", 8)])

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False})
        req.end()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(req.response(), 0.3)
        assert req.destroyed
        await until(lambda: req._closed)
        await until(lambda: not server.thread.is_alive())  # its hold ended at our FIN, not after 8 s
        return req.socket.destroyed
    with caplog.at_level(logging.ERROR, logger="prefork"):
        assert run(main()) is True
    assert not [r for r in caplog.records if "unhandled" in r.getMessage()]
    assert server.received[0].startswith(b"GET / HTTP/1.1\r\n")


def test_a_cancelled_task_awaiting_the_request_destroys_it(server):
    server.serve([("head",), ("hold", 8)])

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False})
        req.end()

        async def waiter():
            await req
        task = asyncio.ensure_future(waiter())
        await until(lambda: req.socket is not None and not req.socket.connecting)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: req._closed)
        await until(lambda: not server.thread.is_alive())
        return req.destroyed
    assert run(main()) is True


def test_a_shielded_await_keeps_the_request(server):
    server.serve([("head",), ("hold", 0.6), ("send", OK), ("hold", 1)])

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False})
        req.end()
        pending = req.response()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(pending), 0.2)
        assert not req.destroyed
        res = await pending
        return res.status_code, await res.read()
    assert run(main()) == (200, b"ok")
    server.wait()


def test_a_read_after_a_cancelled_read_gets_the_body(server):
    """``wait_for(res.read(), t)`` timing out cancels that read only: the next read
    waits afresh and gets the whole body, bytes that came meanwhile included."""
    server.serve([("head",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), ("hold", 0.5),
                  ("send", b"cd"), ("hold", 1)])

    async def main():
        res = await prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False}).end()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(res.read(), 0.1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(res.read(), 0.1)
        body = await res.read()
        return body, await res.read()  # and once more, after the end
    assert run(main()) == (b"abcd", b"abcd")
    server.wait()


def test_a_read_cancelled_by_its_task_leaves_later_reads_working(server):
    server.serve([("head",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), ("hold", 0.5),
                  ("send", b"cd"), ("hold", 1)])

    async def main():
        res = await prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False}).end()
        first = asyncio.ensure_future(res.read())
        second = asyncio.ensure_future(res.read())
        await asyncio.sleep(0)
        first.cancel()
        return await second, await res.read()
    assert run(main()) == (b"abcd", b"abcd")
    server.wait()
