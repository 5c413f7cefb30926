"""An events app that keeps a request id in a ContextVar: set from the X-Rid header when
the request has one, reported as the 'request' listener, the request's 'data' and 'end'
listeners and a task started from 'end' see it; the response's 'finish' listeners'
values are kept, for /finishes."""

import asyncio
import contextvars
import json

RID = contextvars.ContextVar("rid", default=None)
finishes = []


def setup(server):
    async def later(res, seen):
        await asyncio.sleep(0)
        seen["task"] = RID.get()
        res.end(json.dumps(seen))

    def on_request(req, res):
        if req.url == "/finishes":
            res.end(json.dumps(finishes))
            return
        rid = req.headers.get("x-rid")
        if rid is not None:
            RID.set(rid)
        seen = {"listener": RID.get()}
        req.on("data", lambda chunk: seen.__setitem__("data", RID.get()))

        def on_end():
            seen["end"] = RID.get()
            asyncio.get_running_loop().create_task(later(res, seen))
        req.on("end", on_end)
        res.on("finish", lambda: finishes.append(RID.get()))
    server.on("request", on_request)
