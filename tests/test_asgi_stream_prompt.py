"""A streamed ASGI body chunk reaches the client when ``send()`` returns, as under
uvicorn, even when the app then blocks the loop before its next await (an event stream
computing its next event synchronously). A real Server on loopback, a raw client."""

import threading

from daemon import wait_until
from test_asgi import asgi_server, raw

gate = threading.Event()
blocked = {}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": b"data: one\n\n", "more_body": True})
    blocked["released"] = gate.wait(10)  # blocking work before the next await (bounded)
    await send({"type": "http.response.body", "body": b"data: two\n\n", "more_body": False})


def test_a_chunk_is_on_the_wire_while_the_app_blocks_after_sending_it(serve):
    gate.clear()
    blocked.clear()
    st = asgi_server(serve, app=app)
    sock = raw(st.port, b"GET /events HTTP/1.1\r\nHost: h\r\n\r\n", timeout=15)
    data = b""
    try:
        while b"data: one" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    finally:
        gate.set()  # (the client's, once it has the chunk: else the app's wait times out)
        sock.close()
    wait_until(lambda: "released" in blocked, 15)
    assert blocked["released"] is True  # the chunk arrived while the app still blocked
