"""A WebSocket app that accepts, closes (``websocket.close``), then sends one more
message; it records what that send raised in the file named by ``ASGI_AFTER_CLOSE_LOG``.
The path names the message (``/send``, ``/close``); with ``/late`` the app first waits
for its ``websocket.disconnect`` (the client has echoed the close)."""

import os

THEN = {
    "send": {"type": "websocket.send", "text": "hi"},
    "close": {"type": "websocket.close", "code": 1000},
}


def note(line):
    with open(os.environ["ASGI_AFTER_CLOSE_LOG"], "a") as fh:
        fh.write(line + "\n")


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()
    _, then, *late = scope["path"].split("/")
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 4000, "reason": "done"})
    if late:
        assert (await receive())["type"] == "websocket.disconnect"
    try:
        await send(THEN[then])
    except Exception as err:
        note(f"{scope['path']} {type(err).__name__}: {err}")
        return
    note(f"{scope['path']} returned")
