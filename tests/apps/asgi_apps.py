"""ASGI test apps: one raw ASGI 3 app with a route per behaviour (served the same by
prefork and by uvicorn in the differential test), plus lifespan variants."""

import asyncio
import json
import os


def _mark(path, text):
    """Write ``text`` to ``path`` at once (a reader never sees it half-written)."""
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)


def _json(data):
    return json.dumps(data, sort_keys=True).encode()


async def _read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _respond(send, status, body, headers=()):
    if not any(name == b"content-type" for name, _ in headers):
        headers = [(b"content-type", b"text/plain")] + list(headers)
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started_by"] = os.getpid()
                scope["state"]["greeting"] = "hello from lifespan"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                path = os.environ.get("ASGI_SHUTDOWN_MARK")
                try:
                    await asyncio.sleep(float(os.environ.get("ASGI_SHUTDOWN_SECONDS", "0")))
                except asyncio.CancelledError:  # given up by the worker: its finally blocks still run
                    if path:
                        _mark(f"{path}.{os.getpid()}", "cancelled")
                    raise
                if path:
                    _mark(f"{path}.{os.getpid()}", "shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind == "websocket":
        await websocket(scope, receive, send)
        return
    path = scope["path"]
    if path.startswith(("/scope", scope["root_path"] + "/scope")):
        shown = {k: v for k, v in scope.items() if k not in ("headers", "state", "extensions", "server", "client")}
        shown = {k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in shown.items()}
        shown["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]
                            if n not in (b"host", b"user-agent", b"accept-encoding", b"accept", b"connection")]
        shown["state_greeting"] = scope.get("state", {}).get("greeting")
        shown["client_is_loopback"] = bool(scope["client"]) and scope["client"][0] == "127.0.0.1"
        shown["server_port_is_int"] = isinstance(scope["server"][1], int)
        await _respond(send, 200, _json(shown), [(b"content-type", b"application/json")])
    elif path == "/echo":
        body = await _read_body(receive)
        await _respond(send, 200, body or b"", [(b"x-body-length", str(len(body or b"")).encode())])
    elif path == "/duplex":  # one response line per body message, as they come
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            await send({"type": "http.response.body", "body": b"got %d: %s\n" % (len(body), body[:16]),
                        "more_body": True})
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.body", "body": b"end\n"})
    elif path == "/chunks":  # the receive() messages as they came: proves streaming
        sizes = []
        while True:
            message = await receive()
            sizes.append(len(message.get("body", b"")))
            if not message.get("more_body", False):
                break
        await _respond(send, 200, _json({"messages": len(sizes), "total": sum(sizes)}))
    elif path == "/stream":
        count = int(dict(p.split(b"=") for p in scope["query_string"].split(b"&") if p).get(b"n", b"5"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(count):
            await send({"type": "http.response.body", "body": f"part {i}\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/big":  # 64 MiB streamed: send() must wait for the socket
        block = b"z" * (1 << 20)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(64 << 20).encode())]})
        for _ in range(64):
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/headers":
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"x-custom", b"yes"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/raise-before":
        raise RuntimeError("the ASGI app broke before starting")
    elif path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("the ASGI app broke mid-response")
    elif path == "/no-response":
        return
    elif path == "/wait-disconnect":  # answers only after the client has gone
        body = await _read_body(receive)
        message = await receive()
        mark = os.environ.get("ASGI_DISCONNECT_MARK")
        if mark:
            _mark(mark, message["type"])
        await _respond(send, 200, b"too late" if body is not None else b"")
    elif path == "/continue":
        body = await _read_body(receive)
        await _respond(send, 200, b"got " + str(len(body)).encode())
    elif path == "/no-read":
        await _respond(send, 200, b"not reading")
    elif path == "/head":
        await _respond(send, 200, b"a body HEAD must not see", [(b"content-length", b"24")])
    elif path == "/sleep":
        await asyncio.sleep(float(scope["query_string"].decode().partition("=")[2] or "0.1"))
        await _respond(send, 200, b"slept")
    else:
        await _respond(send, 200, b"Hello, World!")


async def websocket(scope, receive, send):
    message = await receive()
    assert message["type"] == "websocket.connect"
    path = scope["path"]
    if path == "/ws/deny":
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain"), (b"x-denied", b"yes")]})
        await send({"type": "websocket.http.response.body", "body": b"go away"})
        return
    if path == "/ws/reject":
        await send({"type": "websocket.close"})
        return
    if path == "/ws/raise" or path.startswith("/ws/raise/"):
        raise RuntimeError("the WebSocket app broke before accepting")
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-accepted", b"1")]})
    if path == "/ws/slow":  # an app slow to receive: it takes nothing for a while, then everything
        await asyncio.sleep(float(scope["query_string"].decode() or "2"))
        received = 0
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            received += 1
            if message.get("bytes") == b"count":
                await send({"type": "websocket.send", "text": str(received)})
    if path == "/ws/scope":
        await send({"type": "websocket.send", "text": json.dumps({
            "path": scope["path"], "query_string": scope["query_string"].decode(), "scheme": scope["scheme"],
            "subprotocols": scope["subprotocols"], "spec_version": scope["asgi"]["spec_version"],
            "state_greeting": scope.get("state", {}).get("greeting"),
            "extensions": sorted(scope.get("extensions", {}))})})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            mark = os.environ.get("ASGI_WS_MARK")
            if mark:
                _mark(mark, str(message["code"]))
            return
        text = message.get("text")
        if text is not None:
            if text.startswith("close:"):
                code = int(text.split(":")[1])
                await send({"type": "websocket.close", "code": code, "reason": "asked to"})
                continue
            if text == "raise":
                raise RuntimeError("the WebSocket app broke after accepting")
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "the database is not there"})
        return
    await _respond(send, 200, b"never")


async def no_lifespan(scope, receive, send):
    assert scope["type"] == "http", "this app speaks only HTTP"
    await _respond(send, 200, b"no lifespan here")


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, World!"})


async def echo_ws(scope, receive, send):
    """WebSocket echo (the benchmark's)."""
    if scope["type"] != "websocket":
        if scope["type"] == "http":
            await hello(scope, receive, send)
        return
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
