"""An ASGI app that counts its calls: /big?N answers N bytes, /count how many /big
requests the app has been called for, /log the order of starts and ends."""

import asyncio

calls = {"big": 0}
order = []


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/big":
        calls["big"] += 1
        body = b"x" * int(scope["query_string"] or b"1000000")
    elif path == "/slow":
        order.append(f"start {scope['query_string'].decode()}")
        await asyncio.sleep(0.05)
        order.append(f"end {scope['query_string'].decode()}")
        body = b"ok"
    elif path == "/count":
        body = str(calls["big"]).encode()
    else:
        body = " ".join(order).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
