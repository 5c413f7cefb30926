"""The ASGI test app of the differential fuzz against uvicorn (tests/fuzz_asgi_uvicorn.py):
a raw ASGI 3 app (no framework), served the same by prefork and by uvicorn as
``apps.fuzz_asgi:app``.

For every HTTP request and WebSocket it appends one JSON line to the file named by
``FUZZ_ASGI_EVENTS``: the canonical scope (``dump``), every ``receive()`` message (body
chunks joined), and what its sends raised. Its path says how to answer (``/m/<mode>/...``,
``/ws/<mode>``: ``HTTP_MODES``, ``WS_MODES``); any other path is answered as ``echo``.
``two-readers`` reads the body while a second task waits in ``receive()`` for the
disconnect, as Starlette's StreamingResponse does.
"""

import asyncio
import json
import os

HTTP_MODES = ["echo", "dup", "chunks", "chunks-cl", "after", "cl-short", "cl-long", "s204", "s304", "s205",
              "s418", "s599", "trailers", "raise-before", "raise-after", "raise-mid", "return", "return-start",
              "return-mid", "early", "conn-close", "te-app", "empty-more", "wait", "empty", "big", "s103", "head-cl",
              "two-readers"]
WS_MODES = ["accept", "sub", "hdr", "close", "deny", "raise", "return", "raise-after", "close-after"]


def dump(scope):
    """The scope's canonical form (strings as latin-1, the client's port left out)."""
    lat = lambda b: b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else repr(b)  # noqa: E731
    out = {k: scope.get(k) for k in ("type", "http_version", "method", "path", "root_path", "scheme", "asgi",
                                     "subprotocols")}
    out["raw_path"] = lat(scope.get("raw_path"))
    out["query_string"] = lat(scope.get("query_string"))
    out["headers"] = [[lat(k), lat(v)] for k, v in scope.get("headers", [])]
    out["server"] = scope["server"][0] if scope.get("server") else None
    client = scope.get("client")
    out["client"] = [client[0], type(client[1]).__name__] if client else None
    out["keys"] = sorted(k for k in scope if k != "app")
    out["extensions"] = sorted(scope.get("extensions") or ())
    return out


def mode_of(scope):
    raw, root = scope.get("raw_path", b""), scope.get("root_path", "").encode("latin-1")
    parts = (raw[len(root):] if root and raw.startswith(root) else raw).split(b"/")
    return parts[2].decode("latin-1") if len(parts) > 2 and parts[1] in (b"m", b"ws") else "echo"


def record(line):
    path = os.environ.get("FUZZ_ASGI_EVENTS")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(line) + "\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    rid = dict(scope.get("headers", [])).get(b"x-fuzz-id", b"").decode("latin-1")
    record({"id": rid, "ev": "begin"})
    seen, log = [], []
    try:
        if scope["type"] == "http":
            await http_app(scope, receive, send, seen, log)
        else:
            await ws_app(scope, receive, send, seen, log)
        log.append("returned")
    except Exception as err:
        log.append(["raised", type(err).__name__])
        raise
    finally:
        record({"id": rid, "ev": "end", "scope": dump(scope), "seen": seen, "log": log})


async def http_app(scope, receive, send, seen, log):
    mode = mode_of(scope)

    async def take():
        message = await receive()
        if message["type"] == "http.request" and seen and seen[-1][0] == "http.request" and seen[-1][2]:
            seen[-1] = ["http.request", seen[-1][1] + message.get("body", b"").hex(), message.get("more_body", False)]
        else:
            seen.append([message["type"], message.get("body", b"").hex(), message.get("more_body", False)])
        return message

    async def out(message):
        try:
            await send(message)
        except Exception as err:
            log.append(["send raised", message["type"], type(err).__name__])
            raise
    listener = None
    if mode == "two-readers":  # Starlette's StreamingResponse (spec 2.3): a disconnect listener
        # beside a reader of the body; which takes a chunk differs by server, so only the
        # body's end is recorded
        listener = await read_beside_a_listener(receive, seen)
    elif mode != "early":
        while (await take()).get("more_body") and seen[-1][0] == "http.request":
            pass
    body = json.dumps(dump(scope)).encode()
    if mode in ("raise-mid", "return-mid"):  # a body cut short: not the dump (compared whole in the record)
        body = b"0123456789" * 30
    status = int(mode[1:]) if mode[:1] == "s" and mode[1:].isdigit() else 200
    headers = [(b"content-type", b"application/json")]
    if mode == "dup":
        headers += [(b"X-Dup", b"1"), (b"x-dup", b"2"), (b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"),
                    (b"x-empty", b""), (b"x-sp", b" padded "), (b"x_under", b"1")]
    if mode in ("cl-short", "cl-long", "chunks-cl"):
        n = {"cl-short": len(body) + 5, "cl-long": 2, "chunks-cl": len(body)}[mode]
        headers.append((b"content-length", str(n).encode()))
    if mode == "conn-close":
        headers.append((b"connection", b"close"))
    if mode == "te-app":
        headers.append((b"transfer-encoding", b"chunked"))
    if mode == "empty":  # no headers, no body
        headers, body = [], b""
    if mode == "head-cl":  # the length a HEAD would have, no body
        headers.append((b"content-length", b"1000"))
        body = b""
    if mode == "raise-before":
        raise ValueError("before the start")
    if mode == "return":
        return
    start = {"type": "http.response.start", "status": status, "headers": headers}
    trailers = mode == "trailers" and "http.response.trailers" in (scope.get("extensions") or {})
    if trailers:  # only where the server offers the extension (neither does yet)
        start["trailers"] = True
    await out(start)
    if mode == "raise-after":
        raise ValueError("after the start")
    if mode == "return-start":
        return
    if mode == "big":  # 128 KiB in 8 messages: past the sockets' high-water marks
        for n in range(8):
            await out({"type": "http.response.body", "body": bytes([97 + n]) * 16384, "more_body": n < 7})
    elif mode in ("chunks", "chunks-cl", "raise-mid", "return-mid", "empty-more", "trailers"):
        third = len(body) // 3
        if mode == "empty-more":
            await out({"type": "http.response.body", "body": b"", "more_body": True})
        await out({"type": "http.response.body", "body": body[:third], "more_body": True})
        if mode == "raise-mid":
            raise ValueError("in the body")
        if mode == "return-mid":
            return
        await out({"type": "http.response.body", "body": body[third:2 * third], "more_body": True})
        await out({"type": "http.response.body", "body": body[2 * third:], "more_body": trailers})
        if trailers:
            await out({"type": "http.response.trailers", "headers": [(b"x-trailer", b"1")], "more_trailers": False})
    else:
        await out({"type": "http.response.body", "body": body})
    if listener is not None:
        listener.cancel()
    if mode == "after":
        await out({"type": "http.response.body", "body": b"late"})
    if mode == "wait":
        await take()


async def read_beside_a_listener(receive, seen):
    """Reads the body to its end while a second task waits in ``receive()`` for the
    disconnect (its ``http.request`` messages dropped); returns the listener's task."""
    async def listen():
        while (await receive())["type"] != "http.disconnect":
            pass
    message = await receive()  # the reader asks first: a body that came whole is its own
    listener = asyncio.ensure_future(listen())
    await asyncio.sleep(0)  # then the listener waits first, as Starlette's does
    while message["type"] == "http.request" and message.get("more_body"):
        message = await receive()
    seen.append(["body end" if message["type"] == "http.request" else message["type"]])
    return listener


async def ws_app(scope, receive, send, seen, log):
    mode = mode_of(scope)
    first = await receive()
    seen.append([first["type"]])
    if mode == "raise":
        raise ValueError("before accept")
    if mode == "return":
        return
    if mode == "close":
        await send({"type": "websocket.close", "code": 1000})
        return
    if mode == "deny":
        await send({"type": "websocket.http.response.start", "status": 403, "headers": [(b"x-denied", b"1")]})
        await send({"type": "websocket.http.response.body", "body": b"denied"})
        return
    accept = {"type": "websocket.accept"}
    if mode == "sub" and scope.get("subprotocols"):
        accept["subprotocol"] = scope["subprotocols"][0]
    if mode == "hdr":
        accept["headers"] = [(b"x-accepted", b"yes")]
    await send(accept)
    await send({"type": "websocket.send", "text": json.dumps(dump(scope))})
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            seen.append([kind, message.get("code")])
            return
        text, data = message.get("text"), message.get("bytes")
        seen.append([kind, text, data.hex() if data is not None else None])
        if mode == "raise-after":
            raise ValueError("after accept")
        if mode == "close-after" or text == "close":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": data})
