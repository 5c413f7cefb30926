"""Starlette apps for stopping and reloading: an endless event stream, with and without
a lifespan, and a WebSocket echo."""

import asyncio
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute


async def events(request):
    async def ticks():
        n = 0
        while True:
            yield f"data: {n}\n\n"
            n += 1
            await asyncio.sleep(0.1)
    return StreamingResponse(ticks(), media_type="text/event-stream")


async def home(request):
    return PlainTextResponse("ok")


async def echo(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


ROUTES = [Route("/", home), Route("/events", events), WebSocketRoute("/ws", echo)]


@asynccontextmanager
async def lifespan(app):
    yield
    print("lifespan shutdown ran", flush=True)


app = Starlette(routes=ROUTES)  # no lifespan handler: Starlette still answers the lifespan scope
with_lifespan = Starlette(routes=ROUTES, lifespan=lifespan)


async def no_lifespan(scope, receive, send):
    """An app that does not speak lifespan (raises on its scope)."""
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan here")
    await app(scope, receive, send)
