"""An ASGI app that answers with the TLS extension of its scope (None when there is none),
on HTTP and on a WebSocket (one text message, then a close)."""

import json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    extensions = scope.get("extensions") or {}
    body = json.dumps({"tls": extensions.get("tls"), "scheme": scope["scheme"],
                       "keys": sorted(extensions)}).encode()
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": body.decode()})
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def writer(scope, receive, send):
    """Answers with the scope's TLS extension as it came, then writes into it (as a
    middleware might): the next request on the connection must not see the writes."""
    extensions = scope["extensions"]
    body = json.dumps({"keys": sorted(extensions), "tls": extensions["tls"]}).encode()
    extensions["tls"]["cipher_suite"] = -1
    extensions["tls"]["client_cert_chain"].append("not sent")
    extensions["written"] = {}
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
