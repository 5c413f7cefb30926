"""HTTP apps that declare ``Content-Length: 5`` and stream more: ``/first`` in its first
body message (sent in the same step as the start, so the head is still held),
``/later`` in its second. Each records what its sends raised in the file named by
``ASGI_FIRST_CHUNK_LOG``."""

import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    chunks = [b"abcdef"] if path == "/first" else [b"abc", b"def"]
    try:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except Exception as err:
        with open(os.environ["ASGI_FIRST_CHUNK_LOG"], "a") as fh:
            fh.write(f"{path} {type(err).__name__}: {err}\n")
        raise
