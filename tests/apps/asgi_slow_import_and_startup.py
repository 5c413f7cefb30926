"""An ASGI app whose import takes until the worker process is $IMPORT_SECONDS old (most
of ``timeout``), then whose lifespan startup awaits $STARTUP_SECONDS (longer than
``timeout``: it heartbeats) before it completes."""

import importlib
import os
import time

importlib.import_module("prefork.asgi")  # (what the worker loads after the app, loaded first: the sleep ends the import)


def _age():
    """Seconds since this process started (forked by the master)."""
    with open("/proc/self/stat") as fh:
        start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


time.sleep(max(0.0, float(os.environ["IMPORT_SECONDS"]) - _age()))


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        import asyncio
        await receive()
        await asyncio.sleep(float(os.environ["STARTUP_SECONDS"]))
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})
