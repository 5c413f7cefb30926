"""prefork's twin of ref_server.js: the same listeners, the same JSON event lines.

Usage: python ref_server.py <port> [configJSON]. The config uses Node's names and
milliseconds (as ref_server.js does); they are translated to prefork's here.
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork.http.serialize import STATUS_CODES  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402
from stdin_commands import read_commands  # noqa: E402

KNOBS = {
    "keepAliveTimeout": ("keep_alive_timeout", 1000),
    "headersTimeout": ("headers_timeout", 1000),
    "requestTimeout": ("request_timeout", 1000),
    "timeout": ("timeout", 1000),
    "maxRequestsPerSocket": ("max_requests_per_socket", None),
    "maxHeaderSize": ("max_header_size", None),
    "maxHeadersCount": ("max_headers_count", None),
    "requireHostHeader": ("require_host_header", None),
    "connectionsCheckingInterval": ("connections_checking_interval", 1000),
}


def translate(options):
    out = {}
    for key, value in (options or {}).items():
        name, scale = KNOBS[key]
        out[name] = value / scale if (scale and value is not None) else value
    return out


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    cfg = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    unlisten = set(cfg.get("unlisten", ()))
    loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
    server = prefork.create_server(loop=loop, **translate(cfg.get("options")))
    for name, value in translate(cfg.get("knobs")).items():
        setattr(server, name, value)
    loop = server.loop
    t0 = time.monotonic()
    ids = {"next": 0}

    def log(**fields):
        fields["t"] = int((time.monotonic() - t0) * 1000)
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    def sid(socket):
        if getattr(socket, "ref_id", None) is None:
            ids["next"] += 1
            socket.ref_id = ids["next"]
            socket.on("close", lambda had_error: log(ev="socket.close", conn=socket.ref_id))
        return socket.ref_id

    def on(ev, fn):
        if ev not in unlisten:
            server.on(ev, fn)

    def after_body(req, fn):
        chunks = []
        req.on("data", chunks.append)
        req.on("end", lambda: fn(b"".join(chunks)))

    def respond(req, res, body):
        path = req.url.split("?")[0]
        if path in ("/", "/hello"):
            return res.end("hello")
        if path == "/chunked":
            res.write("hel")
            return res.end("lo")
        if path == "/empty":
            return res.end()
        if path == "/cl":
            res.write_head(200, {"Content-Length": "5"})
            return res.end("hello")
        if path == "/te":
            res.write_head(200, {"Transfer-Encoding": "chunked"})
            return res.end("hello")
        if path == "/writehead-end":
            res.write_head(200)
            return res.end()
        if path == "/writehead-end-data":
            res.write_head(200)
            return res.end("hello")
        m = re.match(r"^/status/(\d+)$", path)
        if m:
            res.status_code = int(m.group(1))
            return res.end("body")
        m = re.match(r"^/delay/(\d+)$", path)
        if m:
            loop.call_later(int(m.group(1)) / 1000, res.end, "delayed")
            return None
        m = re.match(r"^/slowbody/(\d+)$", path)
        if m:
            res.write("part1")
            loop.call_later(int(m.group(1)) / 1000, res.end, "part2")
            return None
        if path == "/never":
            return None
        if path == "/echo":
            return res.end(b"got:%d:" % len(body) + body)
        if path == "/early-hints":
            res.write_early_hints({"link": "</style.css>; rel=preload; as=style"})
            return res.end("ok")
        if path == "/early-hints-multi":
            res.write_early_hints({"link": ["</a.css>; rel=preload; as=style",
                                            "</b.js>; rel=preload; as=script"], "x-hint": "yes"})
            return res.end("ok")
        if path == "/processing":
            res.write_processing()
            return res.end("ok")
        if path == "/write-continue":
            res.write_continue()
            return res.end("ok")
        if path == "/conn-close":
            res.set_header("Connection", "close")
            return res.end("bye")
        if path == "/conn-keepalive":
            res.set_header("Connection", "keep-alive")
            return res.end("ka")
        if path == "/nodate":
            res.send_date = False
            return res.end("x")
        if path == "/headers":
            return res.end(json.dumps({"raw": req.raw_headers, "headers": req.headers},
                                      separators=(",", ":"), ensure_ascii=False))
        if path == "/custom-headers":
            res.set_header("X-A", "1")
            res.set_header("Set-Cookie", ["a=1", "b=2"])
            res.set_header("Content-Type", "text/plain")
            return res.end("x")
        if path == "/flush":
            res.flush_headers()
            loop.call_later(0.05, res.end, "late")
            return None
        if path == "/write-empty-end":
            res.write("")
            return res.end()
        if path == "/close-server":
            server.close(lambda err: log(ev="close.cb"))
            loop.call_later(0.3, res.end, "closing")
            return None
        res.status_code = 404
        return res.end("not found")

    def handle(req, res):
        res.on("finish", lambda: log(ev="res.finish", conn=sid(req.socket), url=req.url))
        if req.url.split("?")[0] == "/sync":
            return res.end("sync")
        after_body(req, lambda body: respond(req, res, body))
        return None

    server.on("connection", lambda s: log(ev="accept", conn=sid(s), port=s.remote_port))
    on("connection", lambda s: log(ev="connection", conn=sid(s)))

    def on_request(req, res):
        log(ev="request", conn=sid(req.socket), method=req.method, url=req.url, v=req.http_version)
        handle(req, res)
    on("request", on_request)

    def on_check_continue(req, res):
        log(ev="checkContinue", conn=sid(req.socket), url=req.url)
        if req.url.startswith("/reject"):
            res.write_head(417, {"Content-Length": "0"})
            res.end()
            return
        res.write_continue()
        handle(req, res)
    on("checkContinue", on_check_continue)

    def on_check_expectation(req, res):
        expect = req.headers.get("expect")
        log(ev="checkExpectation", conn=sid(req.socket), expect=expect)
        res.write_head(417, {"X-Expect-Seen": expect})
        res.end("unsupported expectation")
    on("checkExpectation", on_check_expectation)

    status_for = {"HPE_HEADER_OVERFLOW": 431, "HPE_CHUNK_EXTENSIONS_OVERFLOW": 413,
                  "ERR_HTTP_REQUEST_TIMEOUT": 408}

    def on_client_error(err, socket):
        log(ev="clientError", conn=sid(socket), code=err.code, bytesParsed=err.bytes_parsed)
        if cfg.get("clientErrorMode") == "noop":
            return
        res = socket.http_message
        if err.code in ("ECONNRESET", "EPIPE") or not socket.writable or (res is not None and res.headers_sent):
            socket.destroy()
            return
        status = status_for.get(err.code, 400)
        socket.end(f"HTTP/1.1 {status} {STATUS_CODES[status]}\r\nX-Client-Error: {err.code}\r\n"
                   "Content-Length: 0\r\nConnection: close\r\n\r\n")
    on("clientError", on_client_error)

    def tunnel(ev, req, socket, head, first):
        log(ev=ev, conn=sid(socket), url=req.url, head=head.decode("latin-1"))
        socket.write(first)
        if head:
            socket.write(head)
        socket.on("data", socket.write)
        socket.on("end", socket.end)
    on("connect", lambda req, socket, head: tunnel(
        "connect", req, socket, head, "HTTP/1.1 200 Connection Established\r\n\r\n"))
    on("upgrade", lambda req, socket, head: tunnel(
        "upgrade", req, socket, head,
        f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {req.headers.get('upgrade')}\r\n"
        "Connection: Upgrade\r\n\r\n"))
    on("dropRequest", lambda req, socket: log(ev="dropRequest", conn=sid(socket), url=req.url))

    def on_timeout(socket):
        log(ev="timeout", conn=sid(socket))
        if cfg.get("timeoutMode") != "noop":
            socket.destroy()
    on("timeout", on_timeout)
    on("close", lambda: log(ev="close"))

    read_commands(loop, {"close": lambda: server.close(lambda err: log(ev="close.cb")),
                         "closeIdle": server.close_idle_connections, "closeAll": server.close_all_connections,
                         "sync": lambda: log(ev="sync")})
    server.listen(port, "127.0.0.1", lambda: log(ev="listening", port=server.address()["port"]))
    loop.run_forever()


if __name__ == "__main__":
    main()
