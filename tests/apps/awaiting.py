"""An events app whose listener awaits: ``/await/N`` answers after ``await asyncio.sleep(N)``."""

import asyncio


def setup(server):
    async def on_request(req, res):
        if req.url.startswith("/await/"):
            await asyncio.sleep(float(req.url.rsplit("/", 1)[1]))
        res.end("done")
    server.on("request", on_request)
