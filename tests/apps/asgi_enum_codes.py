"""WebSocket apps that give their status and close codes as ``IntEnum`` members
(``http.HTTPStatus``, an app's own enum), as a Starlette ``HTTPException`` raised before
the accept carries them into a denial response."""

import enum
from http import HTTPStatus


class Close(enum.IntEnum):
    GOING_AWAY_FOR_MAINTENANCE = 4004


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"]
    if path == "/deny":
        await send({"type": "websocket.http.response.start", "status": HTTPStatus.UNAUTHORIZED,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"7")]})
        await send({"type": "websocket.http.response.body", "body": b"who are"})
    elif path == "/deny-bool":
        await send({"type": "websocket.http.response.start", "status": True, "headers": []})
    elif path == "/close":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": Close.GOING_AWAY_FOR_MAINTENANCE, "reason": "enum"})
    elif path == "/close-bool":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": True})
