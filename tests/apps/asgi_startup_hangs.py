"""An ASGI app whose lifespan startup waits for a service that never answers (when
$HANG_FILE is unset, or names a file that exists); its ``finally`` (an async cleanup:
a pool half opened is closed) says when it runs. With $FAIL_FIRST (a path) too, the
first worker to get there answers ``lifespan.startup.failed`` once another awaits."""

import asyncio
import os
import sys


def hangs():
    path = os.environ.get("HANG_FILE")
    return path is None or os.path.exists(path)


def claim(path):
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        first = os.environ.get("FAIL_FIRST")
        if hangs() and first and claim(first):
            while not any(name.startswith("awaits.") for name in os.listdir(os.path.dirname(first))):
                await asyncio.sleep(0.01)
            await send({"type": "lifespan.startup.failed", "message": "the database is unreachable"})
            return
        if hangs():
            if first:
                open(os.path.join(os.path.dirname(first), f"awaits.{os.getpid()}"), "w").close()
            print(f"startup awaits in {os.getpid()}", file=sys.stderr, flush=True)
            try:
                await asyncio.sleep(3600)
            finally:
                await asyncio.sleep(0.02)
                print(f"startup cleanup ran in {os.getpid()}", file=sys.stderr, flush=True)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
