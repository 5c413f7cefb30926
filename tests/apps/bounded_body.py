"""An events app that reads its request bodies with a limit (1 KiB): 413 past it."""


def setup(server):
    async def on_request(req, res):
        try:
            body = await req.body(limit=1024)
        except Exception as err:
            res.write_head(getattr(err, "status", 500), {"Connection": "close"})
            res.end(f"{getattr(err, 'code', type(err).__name__)}")
            return
        res.end(f"{len(body)} bytes")
    server.on("request", on_request)
