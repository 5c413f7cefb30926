"""A Starlette app: routes, form parsing, a streamed body read, WebSocket, lifespan."""

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute


@asynccontextmanager
async def lifespan(app):
    yield {"started": True}


async def home(request):
    return PlainTextResponse("starlette here")


async def upload(request):
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSONResponse({"size": size, "started": request.state.started})


async def form(request):
    data = await request.form()
    return JSONResponse({"name": data["name"]})


async def echo(websocket):
    await websocket.accept(subprotocol="v1")
    data = await websocket.receive_bytes()
    await websocket.send_bytes(data[::-1])
    await websocket.close(code=4100)


app = Starlette(routes=[Route("/", home), Route("/upload", upload, methods=["POST"]),
                        Route("/form", form, methods=["POST"]), WebSocketRoute("/ws", echo)],
                lifespan=lifespan)
