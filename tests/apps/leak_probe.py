"""Apps for the leak tests: every interface, with a test-only route ``/__probe`` that
answers what the worker holds (descriptors, RSS, tasks, gc objects, prefork objects by
class, the loop's live timers) as JSON.

Routes: ``/body`` reads the whole body then answers; ``/big`` answers 4 MiB; ``/wait``
awaits 0.2 s before answering (async listeners; WSGI and plain listeners answer after
a timer); ``/upstream`` asks the upstream at ``LEAK_UPSTREAM`` (a port) with the client
and relays what it said (or 502). Upgrades answer 101 and echo; CONNECT answers 200
and echoes.
"""

import asyncio
import collections
import gc
import json
import os
import weakref

import prefork
from prefork.http.errors import HTTPError

BIG = b"x" * (4 << 20)

if os.environ.get("LEAK_NO_GC"):
    # only the probe collects: what the server leaves in reference cycles between two
    # probes is counted exactly (the probe's "cyclic")
    gc.disable()


def _mine(objects):
    counts = collections.Counter()
    for o in objects:
        module = type(o).__module__
        if isinstance(module, str) and module.startswith("prefork"):
            counts[module + "." + type(o).__qualname__] += 1
    return counts


def probe(loop):
    before = _mine(gc.get_objects())
    gc.collect()
    objects = gc.get_objects()
    mine = _mine(objects)
    cyclic = {k: v - mine.get(k, 0) for k, v in before.items() if v - mine.get(k, 0) > 0}
    with open("/proc/self/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    # (a timer already due waits in the ready queue for this turn: e.g. the periodic
    # sweep, when the probe's own callback runs ahead of it in the same turn)
    timers = [h for h in (*getattr(loop, "_scheduled", ()), *getattr(loop, "_ready", ()))
              if isinstance(h, asyncio.TimerHandle) and not h.cancelled()]
    return json.dumps({
        "pid": os.getpid(),
        "fds": len(os.listdir("/proc/self/fd")),
        "rss_kib": rss,
        "tasks": len(asyncio.all_tasks(loop)),
        "objects": len(objects),
        "prefork": dict(mine),
        "cyclic": cyclic,
        "timers": len(timers),
        "timer_kinds": dict(collections.Counter(repr(getattr(h, "_callback", None))[:80] for h in timers)),
        "readers": len(loop._selector.get_map()) if hasattr(loop, "_selector") else -1,
        "cancelled": dict(collections.Counter(
            f"{getattr(h, '_callback', None)!r:.60} in {round(h.when() - loop.time())}s"
            for h in getattr(loop, "_scheduled", ()) if h.cancelled())),
        "types": dict(collections.Counter(type(o).__qualname__ for o in objects)),
    }).encode()


def _upstream_port():
    return int(os.environ.get("LEAK_UPSTREAM", "0"))


def _ask_upstream(res):
    up = prefork.get({"host": "127.0.0.1", "port": _upstream_port(), "path": "/"})

    def on_response(answer):
        chunks = []
        answer.on("data", chunks.append)
        answer.on("end", lambda: res.end(b"upstream: " + b"".join(chunks)))
        answer.on("error", lambda err: res.destroy())
        answer.on("aborted", lambda: res.destroy())

    def on_error(err):
        if not res.headers_sent:
            res.write_head(502)
        res.end()
    up.on("response", on_response)
    up.on("error", on_error)


def _echo(sock, head):
    ref = weakref.ref(sock)
    sock.on("data", lambda data: ref().write(data))
    sock.on("end", lambda: ref().end())
    sock.on("error", lambda err: None)
    if head:
        sock.write(head)


def _setup(server, use_async):
    loop = server.loop

    def answer(req, res, body=b"ok"):
        path = req.url.split("?", 1)[0]
        if path == "/__probe":
            res.end(probe(loop))
        elif path == "/big":
            res.end(BIG)
        elif path == "/upstream":
            _ask_upstream(res)
        else:
            res.end(body)

    if use_async:
        async def on_request(req, res):
            path = req.url.split("?", 1)[0]
            if path == "/wait":
                await asyncio.sleep(0.2)
            try:
                body = await req.body()
            except HTTPError:  # the client went away (aborted)
                return
            answer(req, res, b"got %d" % len(body))
    else:
        def on_request(req, res):
            path = req.url.split("?", 1)[0]
            if path == "/wait":
                wres = weakref.ref(res)
                timer = loop.call_later(0.2, lambda: wres() and wres().end("waited"))
                res.on("close", timer.cancel)
                return
            if req.method == "GET":
                answer(req, res)
                return
            chunks = []
            # (weak references: the listeners make no cycle of this app's own, so what the
            # collector finds is the server's)
            wreq, wres = weakref.ref(req), weakref.ref(res)
            req.on("data", chunks.append)
            req.on("end", lambda: answer(wreq(), wres(), b"got %d" % len(b"".join(chunks))))
    server.on("request", on_request)

    def on_upgrade(req, sock, head):
        sock.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        _echo(sock, head)

    def on_connect(req, sock, head):
        sock.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        _echo(sock, head)
    server.on("upgrade", on_upgrade)
    server.on("connect", on_connect)


def events(server):
    _setup(server, False)


def events_async(server):
    _setup(server, True)


def wsgi(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/__why":
        body = why(environ.get("QUERY_STRING") or "Socket")
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/__probe":
        body = _wsgi_probe()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/wait":
        import time
        time.sleep(0.005)
    if path == "/big":
        start_response("200 OK", [("Content-Length", str(len(BIG)))])
        return [BIG]
    if path == "/upstream":
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", _upstream_port(), timeout=5)
        try:
            conn.request("GET", "/")
            body = conn.getresponse().read()
            status = "200 OK"
        except (OSError, http.client.HTTPException):
            body, status = b"", "502 Bad Gateway"
        finally:
            conn.close()
        start_response(status, [("Content-Length", str(len(body)))])
        return [body]
    data = environ["wsgi.input"].read()
    body = b"got %d" % len(data)
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def _wsgi_probe():
    import threading
    try:
        return probe(asyncio.get_running_loop())  # threads = 1: called on the loop
    except RuntimeError:
        pass
    loop = next(o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running())
    if threading.current_thread() is threading.main_thread():
        return probe(loop)  # threads = 1: called on the loop's thread
    done = threading.Event()
    box = []
    loop.call_soon_threadsafe(lambda: (box.append(probe(loop)), done.set()))
    done.wait(10)
    return box[0] if box else b"{}"


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "bytes": message.get("bytes"), "text": message.get("text")})
    path = scope["path"]
    loop = asyncio.get_running_loop()
    if path == "/__probe":
        body = probe(loop)
    elif path == "/big":
        body = BIG
    elif path == "/upstream":
        try:  # the client, awaited
            req = prefork.request({"host": "127.0.0.1", "port": _upstream_port(), "path": "/"})
            req.end()
            answer = await req
            body = await answer.read()
        except (HTTPError, asyncio.TimeoutError):
            body = b""
    else:
        if path == "/wait":
            await asyncio.sleep(0.2)
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"got %d" % size
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def why(kind="Socket"):
    """What keeps the first unreachable prefork ``kind`` in the collector's hands: its
    referrers among the garbage, four levels up (a diagnosis aid)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    ids = {id(o) for o in garbage}
    target = next((o for o in garbage if type(o).__name__ == kind), None)
    lines = []

    def describe(o):
        d = type(o).__qualname__
        if isinstance(o, dict):
            d += " keys=" + str(list(o)[:8])
        name = getattr(o, "__qualname__", None)
        if isinstance(name, str):
            d += " " + name
        code = getattr(o, "f_code", None) or getattr(o, "__code__", None)
        if code is not None:
            d += f" {code.co_filename}:{code.co_firstlineno}"
        return d[:300]

    def up(o, depth, seen):
        if depth > 5:
            return
        for r in gc.get_referrers(o):
            if id(r) in ids and id(r) not in seen:
                seen.add(id(r))
                lines.append("  " * depth + describe(r))
                up(r, depth + 1, seen)
    if target is not None:
        lines.append(describe(target))
        up(target, 1, {id(target)})
    del garbage
    return "\n".join(lines[:80]).encode()
