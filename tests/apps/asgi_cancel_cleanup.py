"""An endless ASGI stream whose cleanup, when the task is cancelled, awaits before it
says it is done: with a lifespan, with ``lifespan = "off"`` and without lifespan support."""

import asyncio
import sys


async def stream(send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    try:
        while True:
            await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        print("stream cancelled", file=sys.stderr, flush=True)
        try:
            await asyncio.sleep(0.02)  # an async cleanup: a connection handed back to its pool
            print("async cleanup done", file=sys.stderr, flush=True)
        except asyncio.CancelledError:
            print("async cleanup cut", file=sys.stderr, flush=True)
            raise
        raise


async def app(scope, receive, send):
    """Served with ``lifespan = "off"``: it never sees a lifespan scope."""
    assert scope["type"] == "http"
    await stream(send)


async def no_lifespan(scope, receive, send):
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan here")
    await stream(send)


async def with_lifespan(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                print("lifespan shutdown ran", file=sys.stderr, flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    await stream(send)
