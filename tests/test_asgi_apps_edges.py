"""ASGI apps served by the daemon in test_asgi_lifespan (this module holds no
tests)."""

import asyncio
import sys


async def hello(send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def exit_at_startup(scope, receive, send):
    """A lifespan startup that calls sys.exit(): the app asks not to start."""
    if scope["type"] == "lifespan":
        await receive()
        sys.exit(4)
    await hello(send)


async def bare_raise_at_startup(scope, receive, send):
    """A lifespan startup that raises an exception without a message."""
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError
    await hello(send)


async def exit_at_shutdown(scope, receive, send):
    """A lifespan shutdown that calls sys.exit()."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        sys.exit(4)
    await hello(send)


async def hanging_shutdown(scope, receive, send):
    """A lifespan shutdown that never finishes (a pool that does not close); its finally
    block prints a line."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            await asyncio.Event().wait()
        finally:
            print("the hanging shutdown's finally ran", flush=True)
    await hello(send)


async def shutdown_answer_at_startup(scope, receive, send):
    """A lifespan that answers the startup with ``lifespan.shutdown.complete``."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        await receive()
        return
    await hello(send)
