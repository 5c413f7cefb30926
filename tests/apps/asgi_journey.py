"""A FastAPI app as a uvicorn user runs it: lifespan with state, server-sent events,
streams that outlive their client, files, uploads, background tasks, WebSockets.

Marks (small files under ``JOURNEY_MARKS``) let a test in another process see what the
app did: a stream's ``finally``, a background task's end, the lifespan's shutdown."""

import asyncio
import hashlib
import os
import time
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.middleware.base import BaseHTTPMiddleware

MARKS = os.environ.get("JOURNEY_MARKS", "")


def mark(name, text="1"):
    if MARKS:
        path = os.path.join(MARKS, name)
        with open(path + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)


@asynccontextmanager
async def lifespan(app):
    if os.environ.get("JOURNEY_FAIL_STARTUP"):
        raise RuntimeError("the database is unreachable")
    try:
        await asyncio.sleep(float(os.environ.get("JOURNEY_SLOW_STARTUP", "0")))  # waits for a service
    except asyncio.CancelledError:
        mark(f"startup-cancelled.{os.getpid()}")  # what a half-opened pool would release
        raise
    gates = {}
    mark(f"startup.{os.getpid()}")
    yield {"pool": "connected", "gates": gates}
    for name in ("stream", "longpoll", "ws", "background"):
        if os.path.exists(os.path.join(MARKS, f"{name}-finally" if name != "background" else "background-done")):
            mark(f"shutdown-after-{name}")
    mark(f"shutdown.{os.getpid()}")


app = FastAPI(lifespan=lifespan)


PLAIN = ("/watch", "/poll-then-wait")  # routes that test receive() without the middleware between


class Timing(BaseHTTPMiddleware):
    """A BaseHTTPMiddleware, as many apps have one: every HTTP route but PLAIN's goes
    through it (Starlette's BaseHTTPMiddleware hides a disconnect from
    request.is_disconnected() on any server)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in PLAIN:
            return await self.app(scope, receive, send)
        return await super().__call__(scope, receive, send)

    async def dispatch(self, request, call_next):
        started = time.monotonic()
        response = await call_next(request)
        response.headers["x-process-time"] = f"{time.monotonic() - started:.6f}"
        return response


app.add_middleware(Timing)


def gate(request, name):
    """An event the test opens with /open/{name} (the same worker)."""
    return request.state.gates.setdefault(name, asyncio.Event())


@app.get("/open/{name}")
async def open_gate(name: str, request: Request):
    gate(request, name).set()
    return PlainTextResponse("opened")


@app.get("/sse")
async def sse(request: Request, n: int = 3):
    """Event i+1 is produced only after the client asked for it (after reading event i)."""
    async def events():
        for i in range(n):
            if i:
                event = gate(request, f"sse{i}")
                await event.wait()
            yield f"id: {i}\ndata: event {i}\n\n"
    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/forever")
async def forever(request: Request):
    async def ticks():
        try:
            i = 0
            while True:
                yield f"data: tick {i}\n\n"
                i += 1
                await asyncio.sleep(0.05)
        finally:
            mark("stream-finally")
    return StreamingResponse(ticks(), media_type="text/event-stream")


@app.get("/longpoll")
async def longpoll(request: Request):
    """One event, then nothing until the client is gone."""
    async def wait():
        try:
            yield "data: first\n\n"
            await asyncio.Event().wait()
            yield "data: never\n\n"
        finally:
            mark("longpoll-finally")
    return StreamingResponse(wait(), media_type="text/event-stream")


@app.get("/watch")
async def watch(request: Request):
    """Long work that polls request.is_disconnected(), as the Starlette docs show."""
    mark("watch-started")
    while not await request.is_disconnected():
        await asyncio.sleep(0.02)
    mark("watch-disconnected")
    return PlainTextResponse("nobody is listening")


@app.get("/background")
async def background(tasks: BackgroundTasks, request: Request):
    async def later():
        await gate(request, "background").wait()
        mark("background-done")
    tasks.add_task(later)
    return {"queued": True}


@app.get("/background-sleep")
async def background_sleep(tasks: BackgroundTasks, seconds: float = 1.0):
    async def later():
        mark("background-started")
        await asyncio.sleep(seconds)
        mark("background-done")
    tasks.add_task(later)
    return {"queued": True}


@app.api_route("/file", methods=["GET", "HEAD"])
async def file():
    return FileResponse(os.environ["JOURNEY_FILE"], media_type="application/octet-stream")


@app.post("/upload")
async def upload(file: UploadFile):
    digest = hashlib.sha256()
    size = 0
    while chunk := await file.read(65536):
        digest.update(chunk)
        size += len(chunk)
    return {"name": file.filename, "size": size, "sha256": digest.hexdigest()}


@app.post("/stream-upload")
async def stream_upload(request: Request):
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


@app.get("/state")
async def state(request: Request):
    return {"pool": request.state.pool}


@app.api_route("/head", methods=["GET", "HEAD"])
async def head():
    return Response(b"x" * 1000, media_type="text/plain")


@app.websocket("/ws")
async def ws_echo(websocket: WebSocket):
    await websocket.accept(subprotocol="chat" if "chat" in websocket.scope["subprotocols"] else None)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                mark("ws-disconnect", str(message.get("code")))
                return
            if message.get("text") is not None:
                text = message["text"]
                if text.startswith("close "):
                    _, code, reason = text.split(" ", 2)
                    await websocket.close(int(code), reason)
                    return
                await websocket.send_text(text)
            else:
                await websocket.send_bytes(message["bytes"])
    finally:
        mark("ws-finally")


@app.websocket("/ws-ticks")
async def ws_ticks(websocket: WebSocket):
    await websocket.accept()
    try:
        i = 0
        while True:
            await websocket.send_text(f"tick {i}")
            i += 1
            await asyncio.sleep(0.05)
    except WebSocketDisconnect as exc:
        mark("ws-ticks-disconnect", str(exc.code))


@app.websocket("/ws-deny")
async def ws_deny(websocket: WebSocket):
    await websocket.send_denial_response(PlainTextResponse("go away", status_code=401,
                                                           headers={"www-authenticate": "Bearer"}))


@app.api_route("/scope/{rest:path}", methods=["GET", "POST", "OPTIONS"])
async def scope_view(request: Request):
    """The scope's fields a server fills, made comparable between servers."""
    scope = request.scope
    return {"http_version": scope["http_version"], "scheme": scope["scheme"], "method": scope["method"],
            "path": scope["path"], "raw_path": scope["raw_path"].decode("latin-1"),
            "query_string": scope["query_string"].decode("latin-1"), "root_path": scope["root_path"],
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]
                        if n not in (b"user-agent", b"accept", b"accept-encoding")],
            "server": [scope["server"][0], type(scope["server"][1]).__name__],
            "client": [scope["client"][0], type(scope["client"][1]).__name__],
            "asgi": scope["asgi"], "state": sorted(scope["state"]), "url": str(request.url),
            "base_url": str(request.base_url), "extensions": sorted(scope.get("extensions") or {})}


PAGE = """<!doctype html><meta charset="utf-8"><title>journey</title><script>
window.results = {sse: [], ws: [], close: null, protocol: null, extensions: null};
const es = new EventSource("/sse-auto?n=3");
es.onmessage = (e) => { results.sse.push(e.data); if (results.sse.length === 3) es.close(); };
const ws = new WebSocket(`ws://${location.host}/ws`, ["chat"]);
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  results.protocol = ws.protocol; results.extensions = ws.extensions;
  ws.send("h\\u00e9llo"); ws.send(new Uint8Array([1, 2, 3])); ws.send("x".repeat(200000));
};
ws.onmessage = (e) => {
  results.ws.push(typeof e.data === "string" ? (e.data.length > 100 ? "length " + e.data.length : e.data)
                                             : Array.from(new Uint8Array(e.data)));
  if (results.ws.length === 3) ws.send("close 4005 done here");
};
ws.onclose = (e) => { results.close = [e.code, e.reason, e.wasClean]; };
</script>"""


@app.get("/page")
async def page():
    return Response(PAGE, media_type="text/html")


@app.get("/sse-auto")
async def sse_auto(n: int = 3):
    async def events():
        for i in range(n):
            yield f"data: auto {i}\n\n"
            await asyncio.sleep(0.05)
    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/worker")
async def worker():
    return PlainTextResponse(str(os.getpid()))


@app.get("/slow")
async def slow(seconds: float = 1.0):
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@app.get("/poll-then-wait")
async def poll_then_wait(request: Request):
    """Checks is_disconnected() once, then waits for an event that never comes: only
    StreamingResponse's own wait for http.disconnect can end it."""
    async def events():
        try:
            if await request.is_disconnected():
                return
            yield "data: waiting\n\n"
            await asyncio.Event().wait()
        finally:
            mark("poll-then-wait-finally")
    return StreamingResponse(events(), media_type="text/event-stream")
