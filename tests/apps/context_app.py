"""An events app that keeps a request id in a ContextVar: set from the X-Rid header when
the request has one, reported as the listener and a task it starts see it."""

import asyncio
import contextvars
import json

RID = contextvars.ContextVar("rid", default=None)


def setup(server):
    async def later(res, seen):
        await asyncio.sleep(0)
        seen["task"] = RID.get()
        res.end(json.dumps(seen))

    def on_request(req, res):
        rid = req.headers.get("x-rid")
        if rid is not None:
            RID.set(rid)
        seen = {"listener": RID.get()}
        asyncio.get_running_loop().create_task(later(res, seen))
    server.on("request", on_request)
