"""Apps whose work outlives a cancel: an ASGI app whose /stubborn request keeps running
when cancelled (as a sync endpoint's thread does under Starlette), with a lifespan
shutdown that says it ran; and an events app whose async 'close' listener takes a
while (closing a pool)."""

import asyncio
import os
import sys


def say(line):
    print(line, file=sys.stderr, flush=True)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                say("lifespan shutdown ran")
                await asyncio.sleep(float(os.environ.get("SHUTDOWN_SECONDS", "0")))
                say("lifespan shutdown completed")
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/big":  # answered at once; a client that reads nothing holds the connection
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * (32 << 20)})
        return
    if scope["path"] == "/stubborn":
        say("stubborn request began")
        for _ in range(100):
            try:
                await asyncio.sleep(40)
                break
            except asyncio.CancelledError:
                say("stubborn request cancelled; it runs on")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def setup(server):
    async def on_close():
        say("close listener began")
        await asyncio.sleep(float(os.environ.get("CLOSE_SECONDS", "0.5")))
        say("close listener ended: pool closed")

    def on_request(req, res):
        if req.url != "/hold":  # (/hold is never answered: it holds the drain to its bound)
            res.end("ok")
    server.on("close", on_close)
    server.on("request", on_request)
