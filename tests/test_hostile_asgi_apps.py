"""ASGI apps that misbehave on purpose, served by the daemon in the hostile ASGI tests
(this module holds no tests). A route reports what it saw by writing a mark file in the
directory named by HOSTILE_MARKS, so a test can wait on it."""

import asyncio
import os


def mark(name, text):
    """Write ``text`` to the mark ``name`` at once (a reader never sees it half-written)."""
    folder = os.environ.get("HOSTILE_MARKS")
    if not folder:
        return
    path = os.path.join(folder, name)
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)


async def respond(send, body, status=200, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")] + list(headers)})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        message = await receive()
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        if message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
        return
    if kind == "websocket":
        await websocket(scope, receive, send)
        return
    await http(scope, receive, send)


async def http(scope, receive, send):
    path = scope["path"]
    root = scope["root_path"]
    if root and path.startswith(root):
        path = path[len(root):]
    if path == "/pid":
        await respond(send, str(os.getpid()).encode())
    elif path.startswith("/scope"):
        shown = {"path": scope["path"], "raw_path": scope["raw_path"].hex(), "query": scope["query_string"].hex(),
                 "root_path": scope["root_path"],
                 "headers": [[n.hex(), v.hex()] for n, v in scope["headers"] if n.startswith(b"x-")]}
        await respond(send, repr(shown).encode())
    elif path == "/body-before-start":
        await send({"type": "http.response.body", "body": b"oops"})
    elif path == "/start-twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 201, "headers": []})
    elif path == "/body-after-end":
        await respond(send, b"done")
        try:
            await send({"type": "http.response.body", "body": b"more"})
        except RuntimeError as exc:
            mark("body-after-end", str(exc))
            raise
    elif path == "/receive-after-response":  # answers without reading the body, then receives
        await respond(send, b"ok")
        message = await asyncio.wait_for(receive(), 5)
        mark("receive-after-response", repr(message))
    elif path == "/sys-exit":
        raise SystemExit(3)  # sys.exit() in a view ends this request only
    elif path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("broke after the start")
    elif path == "/raise-mid-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("broke mid-body")
    elif path == "/bad-status":
        await send({"type": "http.response.start", "status": int(scope["query_string"] or b"99"), "headers": []})
        await send({"type": "http.response.body", "body": b"bad"})
    elif path == "/bad-header":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-split", b"a\r\nx-injected: 1")]})
        await send({"type": "http.response.body", "body": b"split"})
    elif path == "/short-body":  # declares more than it sends
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"short", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/long-body":  # sends more than it declares
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"four", "more_body": True})
        await send({"type": "http.response.body", "body": b"and more"})
    elif path == "/long-single":  # one body message longer than its declared length
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"too long"})
    elif path == "/coded":  # the Transfer-Encoding the query names (%20 for a space), streamed or whole
        coding, _, how = scope["query_string"].replace(b"%20", b" ").partition(b"&")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"transfer-encoding", coding)]})
        if how == b"stream":
            await send({"type": "http.response.body", "body": b"hel", "more_body": True})
            await send({"type": "http.response.body", "body": b"lo"})
        else:
            await send({"type": "http.response.body", "body": b"hello"})
    elif path == "/str-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": "not bytes: é"})
    elif path == "/odd-body":  # a body of another type, whole or streamed
        body = {b"int": 5, b"none": None, b"list": [b"a"],
                b"view": memoryview(bytes(range(8))).cast("I")}[scope["query_string"].partition(b"&")[0]]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["query_string"].endswith(b"&stream"):
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": body})
    elif path == "/never":
        mark("never", "waiting")
        try:
            await asyncio.Event().wait()
        finally:
            mark("never", "cancelled")
    elif path == "/count":  # reads the whole body slowly, reports the size and the worker's peak memory
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                mark("count", f"disconnect {total}")
                return
            total += len(message.get("body", b""))
            await asyncio.sleep(0)
            if not message.get("more_body", False):
                break
        await respond(send, f"{total} {peak_rss()}".encode())
    elif path == "/disconnect":  # reads until the client goes
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                again = await asyncio.wait_for(receive(), 5)
                mark("disconnect", f"{total} {again['type']}")
                return
            total += len(message.get("body", b""))
            mark("disconnect", "reading")
    elif path == "/slow":
        await asyncio.sleep(float(scope["query_string"] or b"0.2"))
        await respond(send, b"slow " + scope["query_string"])
    else:
        await respond(send, b"path " + path.encode("utf-8", "replace"))


def peak_rss():
    """The worker's resident memory high-water mark, in KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


async def websocket(scope, receive, send):
    path = scope["path"]
    if path == "/ws/send-before-accept":
        await send({"type": "websocket.send", "text": "too early"})
        return
    if path == "/ws/never-accept":
        mark("never-accept", "waiting")
        await asyncio.Event().wait()
    if path == "/ws/return-before-accept":
        return
    if path == "/ws/deny":  # a denial response with what h11 refuses
        await receive()
        query = scope["query_string"]
        headers = [(b"x-split", b"a\r\nx-injected: 1")] if query == b"inject" else []
        await send({"type": "websocket.http.response.start", "status": 403 if query == b"inject" else int(query),
                    "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"denied"})
        return
    if path == "/ws/exit-before-accept":
        raise SystemExit(5)
    if path == "/ws/bad-subprotocol":
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "not-offered"})
        return
    message = await receive()
    assert message["type"] == "websocket.connect", message
    await send({"type": "websocket.accept",
                "subprotocol": scope["subprotocols"][0] if scope["subprotocols"] else None})
    if path == "/ws/return":
        return
    if path == "/ws/slow-reader":  # takes its time before receiving, then says how much came
        await asyncio.sleep(float(scope["query_string"]))
        total = 0
        while total < 3 << 20:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            total += len(message.get("bytes") or b"")
        await send({"type": "websocket.send", "text": f"alive {total}"})
        await receive()
        return
    if path == "/ws/sleepy":  # receives only once the test has written the mark "wake"
        mark("sleepy", "accepted")
        wake = os.path.join(os.environ.get("HOSTILE_MARKS", ""), "wake")
        while not os.path.exists(wake):
            await asyncio.sleep(0.05)
        total = 0
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                mark("sleepy", f"received {total}")
                return
            total += len(message["bytes"])
    if path == "/ws/raise-after-close":
        await send({"type": "websocket.close", "code": 4321, "reason": "closing"})
        raise RuntimeError("broke after its close")
    if path == "/ws/close-code":  # closes with the code the query names, caught and reported
        query = scope["query_string"].decode()
        code = int(query) if query.isdigit() else query
        try:
            await send({"type": "websocket.close", "code": code})
        except (ValueError, TypeError) as exc:
            await send({"type": "websocket.send", "text": f"refused: {type(exc).__name__}"})
            raise
    if path == "/ws/both":
        await send({"type": "websocket.send", "bytes": b"bytes", "text": "text"})
    if path == "/ws/bad-send":  # each message a send that is not bytes or text
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            bad = {"int-bytes": {"bytes": 10 ** 10}, "int-text": {"text": 5}, "str-bytes": {"bytes": "str"},
                   "neither": {}}[message["text"]]
            try:
                await send({"type": "websocket.send", **bad})
            except (TypeError, RuntimeError) as exc:
                await send({"type": "websocket.send", "text": f"refused: {type(exc).__name__}"})
    if path == "/ws/flood":  # sends until a send blocks for a while: the client never reads
        block = b"f" * (256 * 1024)
        sent = 0
        while sent < 4096:
            try:
                await asyncio.wait_for(send({"type": "websocket.send", "bytes": block}), 3)
            except asyncio.TimeoutError:
                mark("flood", f"blocked {sent * len(block)} {peak_rss()}")
                return
            sent += 1
        mark("flood", f"never blocked {sent * len(block)}")
        return
    if path == "/ws/after-disconnect":
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
        again = await asyncio.wait_for(receive(), 5)
        mark("after-disconnect", f"{again['type']} {again.get('code')}")
        return
    # echo, reporting the disconnect
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            mark("ws-disconnect-type", type(message["code"]).__name__)
            mark("ws-disconnect", f"{message['code']}")
            return
        if message.get("text") is not None:
            if message["text"] == "rss":
                await send({"type": "websocket.send", "text": str(peak_rss())})
                continue
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def lifespan_raises(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("this app knows no lifespan")
    await respond(send, b"served")


async def lifespan_fails_then_raises(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        raise RuntimeError("and then it raised")
    await respond(send, b"never")


async def lifespan_wrong_message(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.done"})
    await respond(send, b"never")
