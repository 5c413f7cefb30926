"""An ASGI app that sends its own Connection field: keep-alive (/keep, with a
Keep-Alive too) or close (/close)."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    value = b"close" if scope["path"] == "/close" else b"keep-alive"
    headers = [(b"content-type", b"text/plain"), (b"connection", value)]
    if value == b"keep-alive":
        headers.append((b"keep-alive", b"timeout=99"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})
