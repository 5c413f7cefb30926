"""Members of Node v20's ``http`` API checked against Node on the same requests: each
test runs a Node script (``node_events``) and prefork's twin and compares their logs."""

import asyncio
import json
import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop


def serve_once(handler, requests, **knobs):
    """Run ``handler(req, res, log)`` on prefork for each raw request of ``requests`` (one
    connection each, read to its close; ``log.server`` is the server); the events it
    logged (each a list) are returned."""
    loop = new_event_loop()
    events = []
    seen = []

    def log(*a):
        events.append(json.loads(json.dumps(list(a))))

    def on_request(req, res):
        seen.append(req)
        if len(seen) == len(requests):
            res.on("close", lambda: loop.call_soon(loop.stop))
        try:
            handler(req, res, log)
        except Exception as exc:  # (the client gets its 500: the log says why)
            log("raised", repr(exc))
            raise
    server = log.server = prefork.create_server(on_request, loop=loop)
    for name, value in knobs.items():
        setattr(server, name, value)
    server.listen(0)
    port = server.address()["port"]

    def client():
        for raw in requests:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(raw)
                while c.recv(65536):
                    pass
    run_with_client(loop, client, server)
    return events


CAPPED_HEAD = (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nA: 1\r\nB: 2\r\nC: 3\r\nA: 4\r\n"
               b"Cookie: a=1\r\ncookie: b=2\r\nD: 5\r\n\r\n")

NODE_DISTINCT = r"""
const s = http.createServer((req, res) => {
  log(s.maxHeadersCount, req.headers, req.headersDistinct, req.rawHeaders.length);
  res.end();
  if (++n === counts.length) { s.close(); done(); } else s.maxHeadersCount = counts[n];
});
const counts = [3, 1, 0, null, 5]; let n = 0;
s.maxHeadersCount = counts[0];
s.listen(0, '127.0.0.1', () => {
  const send = (i) => { if (i === counts.length) return;
    const c = net.connect(s.address().port, '127.0.0.1', () => c.write(HEAD));
    c.on('data', () => {}); c.on('close', () => send(i + 1)); };
  send(0);
});
"""


def test_headers_distinct_takes_the_fields_max_headers_count_keeps_as_node():
    counts = [3, 1, 0, None, 5]
    expected = node_events(f"const HEAD = {json.dumps(CAPPED_HEAD.decode())};\n" + NODE_DISTINCT)
    assert [len(e[2]) for e in expected] == [3, 1, 7, 7, 5]  # (Node's own cut)

    def handler(req, res, log):
        log(server_count.pop(0), req.headers, req.headers_distinct, len(req.raw_headers))
        res.end()
    server_count = list(counts)
    events = []
    for count in counts:  # one server per count: each request sees its own cap
        events += serve_once(handler, [CAPPED_HEAD], max_headers_count=count)
    assert events == expected


NODE_ARG_TYPES = r"""
const s = http.createServer((req, res) => {
  const tryit = (n, f) => { try { log(n, f()); } catch (e) { log(n, 'throws', e.code, e instanceof TypeError); } };
  for (const [label, fill] of [['empty', false], ['set', true]]) {
    if (fill) res.setHeader('x-a', '1');
    tryit(label + ' get', () => res.getHeader(5));
    tryit(label + ' has', () => res.hasHeader(null));
    tryit(label + ' remove', () => res.removeHeader(7));
  }
  tryit('hints', () => res.writeEarlyHints('</a.css>; rel=preload'));
  tryit('hints none', () => res.writeEarlyHints(null));
  res.end('ok');
  s.close(); done();
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  c.on('data', () => {}); c.on('error', () => {});
});
"""


def test_a_field_name_or_hints_of_the_wrong_type_is_err_invalid_arg_type_as_node():
    expected = node_events(NODE_ARG_TYPES)
    assert expected[0] == ["empty get", "throws", "ERR_INVALID_ARG_TYPE", True]

    def handler(req, res, log):
        def tryit(label, call):
            try:
                log(label, call())
            except Exception as exc:
                log(label, "throws", getattr(exc, "code", repr(exc)), isinstance(exc, TypeError))
        for label, fill in (("empty", False), ("set", True)):
            if fill:
                res.set_header("x-a", "1")
            tryit(label + " get", lambda: res.get_header(5))
            tryit(label + " has", lambda: res.has_header(None))
            tryit(label + " remove", lambda: res.remove_header(7))
        tryit("hints", lambda: res.write_early_hints("</a.css>; rel=preload"))
        tryit("hints none", lambda: res.write_early_hints(None))
        res.end("ok")
    events = serve_once(handler, [b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
    assert events == expected


CHUNKED_PATHS = ["/", "/cl", "/te", "/204", "/flush", "/end"]
SURFACE_REQUESTS = [f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                    for path in CHUNKED_PATHS for method in ("GET", "HEAD")]

NODE_SURFACE = r"""
const s = http.createServer((req, res) => {
  const p = req.url;
  if (n === 0) {
    log('server', s.ref() === s, s.unref() === s);
    log('req', req.statusCode, req.statusMessage, req.readableObjectMode, req.readableEncoding, res.writableObjectMode);
    for (const e of ['UTF-8', 'binary', 'ucs2', 'UCS-2', 'utf-16le', 'Hex', 'base64url', 'latin1']) {
      req.setEncoding(e); log('encoding', e, req.readableEncoding);
    }
  }
  const a = [req.method, p, res.chunkedEncoding];
  if (p === '/cl') { res.setHeader('content-length', '1'); res.write('a'); }
  else if (p === '/te') { res.setHeader('transfer-encoding', 'chunked'); res.write('a'); }
  else if (p === '/204') { res.statusCode = 204; res.write(''); }
  else if (p === '/flush') res.flushHeaders();
  else if (p === '/end') { a.push(res.chunkedEncoding); res.end('abc'); }
  else res.write('a');
  a.push(res.chunkedEncoding); res.end(); a.push(res.chunkedEncoding);
  log('chunked', ...a);
  if (++n === REQS.length) { s.close(); done(); }
});
let n = 0;
s.listen(0, '127.0.0.1', () => {
  const send = (i) => { if (i === REQS.length) return;
    const c = net.connect(s.address().port, '127.0.0.1', () => c.write(REQS[i]));
    c.on('data', () => {}); c.on('close', () => send(i + 1)); };
  send(0);
});
"""


def test_members_a_port_reads_have_nodes_values():
    """``server.ref()``/``unref()``, ``req.readable_encoding`` (by Node's names),
    ``readable_object_mode``, ``status_code``/``status_message`` (None on a server
    request), ``res.writable_object_mode`` and ``res.chunked_encoding`` through a head's
    making (HEAD answers and an application Transfer-Encoding included)."""
    expected = node_events(f"const REQS = {json.dumps([r.decode() for r in SURFACE_REQUESTS])};\n" + NODE_SURFACE)
    assert ["chunked", "HEAD", "/te", False, True, True] in expected  # (a HEAD answer's head says chunked)
    marks = []

    def handler(req, res, log):
        p = req.url
        if not marks:
            marks.append(req.readable_high_water_mark)
            server = log.server
            log("server", server.ref() is server, server.unref() is server)
            log("req", req.status_code, req.status_message, req.readable_object_mode, req.readable_encoding,
                res.writable_object_mode)
            for name in ("UTF-8", "binary", "ucs2", "UCS-2", "utf-16le", "Hex", "base64url", "latin1"):
                req.set_encoding(name)
                log("encoding", name, req.readable_encoding)
        a = [req.method, p, res.chunked_encoding]
        if p == "/cl":
            res.set_header("content-length", "1")
            res.write("a")
        elif p == "/te":
            res.set_header("transfer-encoding", "chunked")
            res.write("a")
        elif p == "/204":
            res.status_code = 204
            res.write("")
        elif p == "/flush":
            res.flush_headers()
        elif p == "/end":
            a.append(res.chunked_encoding)
            res.end("abc")
        else:
            res.write("a")
        a.append(res.chunked_encoding)
        res.end()
        a.append(res.chunked_encoding)
        log("chunked", *a)
    assert serve_once(handler, SURFACE_REQUESTS) == expected
    assert marks == [64 * 1024]  # where the socket stops reading a body kept unread (Node's stream: 16 KiB)


NODE_DISPOSE = r"""
(async () => {
  const idle = http.createServer();
  try { await idle[Symbol.asyncDispose](); log('unlistened', 'resolved'); } catch (e) { log('unlistened', e.code); }
  const s = http.createServer((req, res) => res.end('ok'));
  s.on('close', () => log('close event'));
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const c = net.connect(s.address().port, '127.0.0.1');
  await new Promise((r) => { c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); c.once('data', r); });
  await s[Symbol.asyncDispose]();  // the kept-alive connection is idle: closed at once
  log('disposed', s.listening);
  done();
})();
"""


def test_async_with_closes_the_server_as_nodes_async_dispose():
    expected = node_events(NODE_DISPOSE)
    assert expected == [["unlistened", "ERR_SERVER_NOT_RUNNING"], ["close event"], ["disposed", False]]
    loop = new_event_loop()
    events = []

    async def main():
        try:
            async with prefork.create_server(loop=loop):
                pass
            events.append(["unlistened", "resolved"])
        except Exception as exc:
            events.append(["unlistened", getattr(exc, "code", repr(exc))])
        server = prefork.create_server(lambda req, res: res.end("ok"), loop=loop)
        server.on("close", lambda: events.append(["close event"]))
        server.listen(0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.address()["port"])
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"ok")
        async with server:
            pass
        events.append(["disposed", server.listening])
        assert await asyncio.wait_for(reader.read(), 5) == b""  # (its idle connection closed)
        writer.close()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 5))
    finally:
        loop.close()
    assert events == expected
