"""WebSocket apps that answer the handshake with a 403 (``websocket.close`` before the
accept) or a denial response, then send one more message; each records what that send
raised in the file named by ``ASGI_AFTER_ANSWER_LOG``. With ``/late`` in the path the app
first waits for its ``websocket.disconnect`` (the server has closed the socket)."""

import os

FIRST = {
    "403": [{"type": "websocket.close"}],
    "denial": [{"type": "websocket.http.response.start", "status": 401, "headers": [(b"content-length", b"2")]},
               {"type": "websocket.http.response.body", "body": b"no"}],
}
THEN = {
    "accept": {"type": "websocket.accept"},
    "send": {"type": "websocket.send", "text": "hi"},
    "body": {"type": "websocket.http.response.body", "body": b"more"},
}


def note(line):
    with open(os.environ["ASGI_AFTER_ANSWER_LOG"], "a") as fh:
        fh.write(line + "\n")


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()
    _, first, then, *late = scope["path"].split("/")
    for message in FIRST[first]:
        await send(message)
    if late:
        assert (await receive())["type"] == "websocket.disconnect"
    try:
        await send(THEN[then])
    except Exception as err:
        note(f"{scope['path']} {type(err).__name__}: {err}")
        return
    note(f"{scope['path']} returned")
