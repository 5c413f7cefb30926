"""An ASGI app answering with its scope's ``server`` and ``client`` as JSON."""

import json


async def app(scope, receive, send):
    body = json.dumps({"server": scope["server"], "client": scope["client"]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
