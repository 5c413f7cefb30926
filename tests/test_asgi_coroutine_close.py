"""An app's coroutine closed with its loop (the loop stopped and closed while the app
still waits, as a process that ends without cancelling its tasks leaves it) is not an
app failure: closing it logs nothing and schedules nothing on the closed loop (which
raised RuntimeError out of the coroutine's close)."""

import asyncio
import base64
import logging
import os
import socket

import pytest

import prefork
from prefork.asgi.adapter import ASGIAdapter
from prefork.runtime import new_event_loop


def app_waiting_for_ever(started):
    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
        if not started.done():
            started.set_result(None)
        await asyncio.Event().wait()
    return app


REQUESTS = {
    "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "websocket": (b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n\r\n"),
}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_an_app_coroutine_closed_with_its_loop_is_not_an_app_failure(kind, caplog):
    loop = new_event_loop("asyncio")
    server = prefork.create_server(loop=loop)
    started = loop.create_future()
    ASGIAdapter(app_waiting_for_ever(started), lifespan="off").setup(server)
    server.listen(0)
    client = socket.create_connection(("127.0.0.1", server.address()["port"]), timeout=10)
    try:
        client.sendall(REQUESTS[kind])
        loop.run_until_complete(asyncio.wait_for(started, 10))
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        assert tasks
        loop.close()  # stopped with the app still waiting: its task is never cancelled
        with caplog.at_level(logging.ERROR):
            for task in tasks:
                task.get_coro().close()  # what the garbage collector does to it later
        ours = [r for r in caplog.records if r.name.startswith("prefork") and r.levelno >= logging.ERROR]
        assert not ours, caplog.text
        for task in tasks:  # left pending on purpose: asyncio need not report them when collected
            task._log_destroy_pending = False  # (later, in another test or a process forked from this one)
    finally:
        client.close()
