"""A FastAPI/Starlette app served unchanged by prefork and by uvicorn, for the browser
and slow-client comparisons: uploads, streams, SSE with ids, static files, gzip on a
stream, a large FileResponse, background tasks, failing middleware, WebSockets.

Marks (small files under ``PEER_MARKS``) let a test in another process see what the app
did."""

import asyncio
import hashlib
import os

from fastapi import BackgroundTasks, FastAPI, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, StreamingResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

MARKS = os.environ.get("PEER_MARKS", "")
STATIC = os.environ.get("PEER_STATIC", "")


def mark(name, text="1"):
    if MARKS:
        path = os.path.join(MARKS, name)
        with open(path + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)


class Boom(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path == "/boom-before":
            raise RuntimeError("middleware failed before the app")
        response = await call_next(request)
        if request.url.path == "/boom-after":
            raise RuntimeError("middleware failed after the app")
        return response


app = FastAPI()
app.add_middleware(Boom)


@app.get("/boom-before")
@app.get("/boom-after")
async def boom():
    return PlainTextResponse("unreachable")


@app.post("/upload")
async def upload(file: UploadFile):
    digest = hashlib.sha256()
    size = 0
    while chunk := await file.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest(), "rolled": bool(getattr(file.file, "_rolled", True))}


@app.post("/stream")
async def stream(request: Request):
    digest = hashlib.sha256()
    size = chunks = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
        chunks += 1
    return {"size": size, "sha256": digest.hexdigest()}


@app.get("/forever")
async def forever(request: Request):
    async def ticks():
        try:
            i = 0
            while True:
                yield f"tick {i}\n"
                i += 1
                await asyncio.sleep(0.02)
        finally:
            mark("forever-finally", "closed")
            mark("forever-finally", f"closed {await request.is_disconnected()}")
    return StreamingResponse(ticks(), media_type="text/plain")


@app.get("/sse")
async def sse(request: Request):
    last = request.headers.get("last-event-id")
    mark(f"sse-last-{last}")
    start = int(last) + 1 if last is not None else 0

    async def events():
        yield "retry: 200\n\n"
        for i in range(start, start + 2):
            yield f"id: {i}\ndata: event {i}\n\n"
    return StreamingResponse(events(), media_type="text/event-stream")


async def gz_stream(request):
    async def parts():
        for i in range(50):
            yield ("line %d " % i) * 40 + "\n"
            await asyncio.sleep(0)
    return StreamingResponse(parts(), media_type="text/plain")

gz = Starlette(routes=[Route("/stream", gz_stream)], middleware=[Middleware(GZipMiddleware, minimum_size=10)])
app.mount("/gz", gz)
if STATIC:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.get("/bigfile")
async def bigfile():
    return FileResponse(os.path.join(STATIC, "big.bin"))


@app.get("/rss")
async def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return PlainTextResponse(line.split()[1])


@app.get("/background")
async def background(tasks: BackgroundTasks):
    async def later():
        await asyncio.sleep(0.2)
        mark("background-done")
    tasks.add_task(later)
    return PlainTextResponse("sent")


@app.get("/page")
async def page():
    return HTMLResponse("<!doctype html><title>peer</title><body>peer</body>")


@app.websocket("/ws")
async def ws_echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                text = message["text"]
                if text.startswith("close "):
                    code, reason = text[6:].split(" ", 1)
                    await websocket.close(int(code), reason)
                    return
                await websocket.send_text(text)
            else:
                await websocket.send_bytes(message["bytes"])
    finally:
        mark("ws-finally")


@app.websocket("/ws-extensions")
async def ws_extensions(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(websocket.headers.get("sec-websocket-extensions", ""))
    await websocket.close()


@app.websocket("/ws-never")
async def ws_never(websocket: WebSocket):
    return


@app.websocket("/ws-after-leave")
async def ws_after_leave(websocket: WebSocket):
    await websocket.accept()
    await websocket.receive_text()  # the client says it is leaving, then leaves
    await asyncio.sleep(0.3)
    try:
        for _ in range(200):
            await websocket.send_text("still talking")
            await asyncio.sleep(0.01)
        mark("after-leave", "no error")
    except WebSocketDisconnect as gone:
        mark("after-leave", f"WebSocketDisconnect {gone.code}")
    except BaseException as other:
        mark("after-leave", f"{type(other).__name__} {other}")
        raise


@app.websocket("/ws-hold")
async def ws_hold(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(str(os.getpid()))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                mark(f"hold-disconnect-{message.get('code')}")
                return
            await websocket.send_text(message.get("text") or "")
    finally:
        mark("hold-finally")


@app.websocket("/ws-refuse")
async def ws_refuse(websocket: WebSocket):
    await websocket.close(4003, "not you")


@app.websocket("/ws-odd")
async def ws_odd(websocket: WebSocket):
    """/ws-odd?how=...: an accept or a close as some apps write them."""
    how = websocket.query_params.get("how", "")
    if how == "headers":
        await websocket.accept(headers=[(b"set-cookie", b"a=1"), (b"x-extra", b"yes")])
        await websocket.send_text("with headers")
        await websocket.close()
    elif how == "long-reason":
        await websocket.accept()
        await websocket.close(4000, "\u00e9" * 100)
    elif how == "send-after-close":
        await websocket.accept()
        await websocket.close(4000, "bye")
        try:
            await websocket.send_text("late")
            mark("send-after-close", "no error")
        except BaseException as error:
            mark("send-after-close", f"{type(error).__name__} {error}")
    elif how == "big":
        await websocket.accept()
        await websocket.send_bytes(b"\x01" * (20 * 1024 * 1024))
        await websocket.close()


@app.get("/background-slow")
async def background_slow(tasks: BackgroundTasks, fail: int = 0):
    async def later():
        await asyncio.sleep(1.5)
        mark("background-slow-done")
        if fail:
            raise RuntimeError("the background task failed")
    tasks.add_task(later)
    return PlainTextResponse("sent")


@app.get("/flood")
async def flood(n: int = 300):
    async def chunks():
        block = b"f" * (1 << 20)
        try:
            for _ in range(n):
                yield block
        finally:
            mark("flood-finally")
    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.post("/upload-leave")
async def upload_leave(request: Request):
    try:
        form = await request.form()
        mark("upload-leave", f"form {len(form)}")
    except BaseException as error:
        mark("upload-leave", f"{type(error).__name__}")
        raise
    return PlainTextResponse("ok")


@app.get("/late")
async def late(seconds: float = 2.0, media: str = "text/event-stream"):
    """A stream whose first event comes late (a long poll, a quiet event source)."""
    async def events():
        await asyncio.sleep(seconds)
        yield "data: late\n\n"
    return StreamingResponse(events(), media_type=media)


async def raw(scope, receive, send):
    """/raw/late: a start, a pause, one complete body with no length declared;
    /raw/now: the same with no pause; /raw/late-fail: a start, a pause, then a raise
    (each behind the app's BaseHTTPMiddleware)."""
    path = "/" + scope["path"].rpartition("/")[2]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    if path != "/now":
        await asyncio.sleep(0.2)
    if path == "/late-fail":
        raise RuntimeError("failed after the start")
    await send({"type": "http.response.body", "body": b"the body"})

app.mount("/raw", raw)


@app.websocket("/ws-close-soon")
async def ws_close_soon(websocket: WebSocket):
    """Takes messages for a while, then closes with 4000 while the client still sends."""
    await websocket.accept()
    for _ in range(int(websocket.query_params.get("n", "50"))):
        await websocket.receive_text()
    await websocket.close(4000, "enough from you")


@app.post("/stream-progress")
async def stream_progress(request: Request):
    """Marks the bytes received so far after each chunk of request.stream()."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        mark("progress", str(size))
    return {"size": size}
