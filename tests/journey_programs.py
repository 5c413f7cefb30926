"""Programs for the journey tests: each JS program and its prefork port."""

import json

SERVER_JS = r"""
function errCode(fn) { try { fn(); return null; } catch (e) { return e.code || String(e); } }
server.on('request', (req, res) => {
  const path = req.url;
  log('request', { url: path });
  res.on('finish', () => log('res.finish'));
  res.on('close', () => log('res.close'));
  req.on('close', () => log('req.close', { aborted: req.aborted, complete: req.complete }));
  req.on('aborted', () => log('req.aborted'));
  req.on('error', (e) => log('req.error', { code: e.code, message: e.message }));
  res.on('error', (e) => log('res.error', { code: e.code }));
  if (path === '/no-keep-alive') { res.shouldKeepAlive = false; return res.end('bye'); }
  if (path === '/no-keep-alive-write') { res.shouldKeepAlive = false; res.write('a'); return res.end('b'); }
  if (path === '/array-header') { res.setHeader('X-Multi', ['a', 'b']); return res.end('x'); }
  if (path === '/append') {
    res.setHeader('X-A', '1'); res.appendHeader('X-A', '2'); res.appendHeader('x-a', ['3', '4']);
    res.appendHeader('X-New', 'n');
    log('headers', { h: res.getHeaders() });
    return res.end('x');
  }
  if (path === '/sent-errors') {
    res.setHeader('X-Before', 'b');
    res.writeHead(200, { 'X-Head': 'h' });
    log('after', { names: res.getHeaderNames(), has: res.hasHeader('x-before'), sent: res.headersSent,
      set: errCode(() => res.setHeader('X-After', '1')), remove: errCode(() => res.removeHeader('X-Before')),
      append: errCode(() => res.appendHeader('X-Before', '1')), again: errCode(() => res.writeHead(201)) });
    return res.end('ok');
  }
  if (path === '/head-array-pairs') { res.writeHead(200, [['X-A', '1'], ['X-B', '2']]); return res.end('x'); }
  if (path === '/head-array-flat') { res.writeHead(200, ['X-A', '1', 'X-A', '2', 'X-B', '3']); return res.end('x'); }
  if (path === '/head-message') { res.writeHead(299, 'Fine Thanks', { 'X-A': '1' }); return res.end('x'); }
  if (path === '/status-message-attr') { res.statusCode = 202; res.statusMessage = 'Taken'; return res.end('x'); }
  if (path === '/head-merge') {
    res.setHeader('X-Set', 's'); res.writeHead(200, { 'X-Head': 'h' });
    log('merged', { h: res.getHeaders() });
    return res.end('x');
  }
  if (path === '/head-only') {
    res.writeHead(200, { 'X-Head': 'h' });
    log('headonly', { h: res.getHeaders(), n: res.getHeaderNames(), has: res.hasHeader('x-head') });
    return res.end('x');
  }
  if (path === '/number-header') { res.setHeader('X-Num', 5); res.setHeader('Content-Length', 2); return res.end('ok'); }
  if (path === '/trailers') {
    res.writeHead(200, { 'Trailer': 'X-Sum' }); res.write('abc'); res.addTrailers({ 'X-Sum': '42' });
    return res.end();
  }
  if (path === '/trailers-length') {
    res.writeHead(200, { 'Content-Length': '3' }); res.addTrailers({ 'X-Sum': '42' });
    return res.end('abc');
  }
  if (path === '/write-after-end') {
    res.end('x');
    log('write', { ret: res.write('y') });
    return;
  }
  if (path === '/end-twice') { res.end('a'); res.end('b', () => log('end2.cb')); return; }
  if (path === '/flush-then-set') {
    res.flushHeaders(); log('flushed', { sent: res.headersSent, set: errCode(() => res.setHeader('X', '1')) });
    return res.end('x');
  }
  if (path === '/head-request-body') { return res.end('body for head'); }
  if (path === '/no-content-body') { res.statusCode = 204; log('w', { ret: res.write('abc') }); return res.end('def'); }
  if (path === '/state') {
    const s0 = { ended: res.writableEnded, finished: res.writableFinished, sent: res.headersSent };
    res.end('x');
    log('state', { s0, ended: res.writableEnded, finished: res.writableFinished, sent: res.headersSent,
      msg: res.statusMessage });
    res.on('finish', () => log('state.finish', { finished: res.writableFinished }));
    return;
  }
  if (path === '/read-paused') {
    const chunks = [];
    req.on('readable', () => { let c; while ((c = req.read()) !== null) chunks.push(c.toString()); });
    req.on('end', () => { log('body', { b: chunks.join('') }); res.end('got ' + chunks.join('')); });
    return;
  }
  if (path === '/late-data') {
    setTimeout(() => { const chunks = []; req.on('data', (c) => chunks.push(c.toString()));
      req.on('end', () => res.end('late ' + chunks.join(''))); }, 50);
    return;
  }
  if (path === '/wait-body') { req.on('data', (c) => log('data', { n: c.length })); return; }
  if (path === '/never') return;
  if (path === '/for-await') {
    (async () => {
      const chunks = [];
      try { for await (const c of req) { chunks.push(c.toString()); log('chunk', { c: c.toString() }); } }
      catch (e) { log('for-await.error', { code: e.code }); return; }
      res.end('got ' + chunks.join(''));
    })();
    return;
  }
  if (path === '/pipe') { req.pipe(res); return; }
  if (path === '/pipe-keep') { req.pipe(res, { end: false }); req.on('end', () => res.end('|done')); return; }
  if (path === '/destroy-mid-body') { req.once('data', () => req.destroy()); return; }
  if (path === '/destroy-after-body') {
    req.resume(); req.on('end', () => { req.destroy(); setTimeout(() => res.end('after'), 20); }); return;
  }
  if (path === '/distinct') { return res.end(JSON.stringify(req.headersDistinct)); }
  if (path === '/set-headers') {
    res.setHeaders(new Map([['X-One', '1'], ['X-Two', ['a', 'b']]]));
    log('names', { n: res.getHeaderNames() });
    return res.end('x');
  }
  if (path === '/delay') { setTimeout(() => res.end('delayed'), 200); return; }
  if (path === '/slowbody') { res.write('part1'); setTimeout(() => res.end('part2'), 200); return; }
  if (path === '/drain') {
    const chunk = Buffer.alloc(1024 * 1024, 97);
    let n = 0;
    const pump = () => {
      while (n < 8) { n++; const ok = res.write(chunk); log('write', { n, ok }); if (!ok) { res.once('drain', () => { log('drain'); pump(); }); return; } }
      res.end();
    };
    pump(); return;
  }
  if (path === '/read-then-never') { req.resume(); req.on('end', () => log('req.end')); return; }
  if (path === '/remove-date') { res.removeHeader('Date'); return res.end('x'); }
  if (path === '/content-length-mismatch') { res.setHeader('Content-Length', '10'); return res.end('abc'); }
  if (path === '/get-header-types') {
    res.setHeader('X-Arr', ['1', '2']); res.setHeader('X-Num', 7);
    log('types', { arr: res.getHeader('x-arr'), num: res.getHeader('X-Num'), none: res.getHeader('nope') === undefined });
    return res.end('x');
  }
  if (path === '/set-timeout') { res.setTimeout(100, () => { log('res.timeout'); res.end('timed'); }); return; }
  if (path === '/close-server') {
    server.close(() => log('close.cb'));
    setTimeout(() => res.end('closing'), 100); return;
  }
  if (path === '/destroy-socket') { res.write('part'); setTimeout(() => req.socket.destroy(), 20); return; }
  if (path === '/res-destroy') { res.write('part'); setTimeout(() => res.destroy(), 20); return; }
  if (path === '/write-cb') { res.write('a', () => log('write.cb')); res.end('b', () => log('end.cb')); return; }
  res.statusCode = 404; res.end('nf');
});
"""


def _err_code(fn):
    try:
        fn()
    except Exception as exc:  # the code Node's error carries
        return getattr(exc, "code", None) or repr(exc)
    return None


def server_py(server, log):
    loop = server.loop

    def on_request(req, res):
        path = req.url
        log("request", url=path)
        res.on("finish", lambda: log("res.finish"))
        res.on("close", lambda: log("res.close"))
        req.on("close", lambda: log("req.close", aborted=req.aborted, complete=req.complete))
        req.on("aborted", lambda: log("req.aborted"))
        req.on("error", lambda e: log("req.error", code=e.code, message=str(e)))
        res.on("error", lambda e: log("res.error", code=e.code))
        if path == "/no-keep-alive":
            res.should_keep_alive = False
            return res.end("bye")
        if path == "/no-keep-alive-write":
            res.should_keep_alive = False
            res.write("a")
            return res.end("b")
        if path == "/array-header":
            res.set_header("X-Multi", ["a", "b"])
            return res.end("x")
        if path == "/append":
            res.set_header("X-A", "1")
            res.append_header("X-A", "2")
            res.append_header("x-a", ["3", "4"])
            res.append_header("X-New", "n")
            log("headers", h=res.get_headers())
            return res.end("x")
        if path == "/sent-errors":
            res.set_header("X-Before", "b")
            res.write_head(200, {"X-Head": "h"})
            log("after", names=res.get_header_names(), has=res.has_header("x-before"), sent=res.headers_sent,
                set=_err_code(lambda: res.set_header("X-After", "1")),
                remove=_err_code(lambda: res.remove_header("X-Before")),
                append=_err_code(lambda: res.append_header("X-Before", "1")),
                again=_err_code(lambda: res.write_head(201)))
            return res.end("ok")
        if path == "/head-array-pairs":
            res.write_head(200, [["X-A", "1"], ["X-B", "2"]])
            return res.end("x")
        if path == "/head-array-flat":
            res.write_head(200, ["X-A", "1", "X-A", "2", "X-B", "3"])
            return res.end("x")
        if path == "/head-message":
            res.write_head(299, "Fine Thanks", {"X-A": "1"})
            return res.end("x")
        if path == "/status-message-attr":
            res.status_code = 202
            res.status_message = "Taken"
            return res.end("x")
        if path == "/head-merge":
            res.set_header("X-Set", "s")
            res.write_head(200, {"X-Head": "h"})
            log("merged", h=res.get_headers())
            return res.end("x")
        if path == "/head-only":
            res.write_head(200, {"X-Head": "h"})
            log("headonly", h=res.get_headers(), n=res.get_header_names(), has=res.has_header("x-head"))
            return res.end("x")
        if path == "/number-header":
            res.set_header("X-Num", 5)
            res.set_header("Content-Length", 2)
            return res.end("ok")
        if path == "/trailers":
            res.write_head(200, {"Trailer": "X-Sum"})
            res.write("abc")
            res.add_trailers({"X-Sum": "42"})
            return res.end()
        if path == "/trailers-length":
            res.write_head(200, {"Content-Length": "3"})
            res.add_trailers({"X-Sum": "42"})
            return res.end("abc")
        if path == "/write-after-end":
            res.end("x")
            log("write", ret=res.write("y"))
            return
        if path == "/end-twice":
            res.end("a")
            res.end("b", lambda: log("end2.cb"))
            return
        if path == "/flush-then-set":
            res.flush_headers()
            log("flushed", sent=res.headers_sent, set=_err_code(lambda: res.set_header("X", "1")))
            return res.end("x")
        if path == "/head-request-body":
            return res.end("body for head")
        if path == "/no-content-body":
            res.status_code = 204
            log("w", ret=res.write("abc"))
            return res.end("def")
        if path == "/state":
            s0 = {"ended": res.writable_ended, "finished": res.writable_finished, "sent": res.headers_sent}
            res.end("x")
            log("state", s0=s0, ended=res.writable_ended, finished=res.writable_finished, sent=res.headers_sent,
                msg=res.status_message)
            res.on("finish", lambda: log("state.finish", finished=res.writable_finished))
            return
        if path == "/read-paused":
            chunks = []

            def readable():
                while True:
                    c = req.read()
                    if c is None:
                        break
                    chunks.append(c.decode())
            req.on("readable", readable)

            def end():
                log("body", b="".join(chunks))
                res.end("got " + "".join(chunks))
            req.on("end", end)
            return
        if path == "/late-data":
            def later():
                chunks = []
                req.on("data", lambda c: chunks.append(c.decode()))
                req.on("end", lambda: res.end("late " + "".join(chunks)))
            loop.call_later(0.05, later)
            return
        if path == "/wait-body":
            req.on("data", lambda c: log("data", n=len(c)))
            return
        if path == "/never" or path == "/for-await":
            return
        if path == "/pipe":
            req.pipe(res)
            return
        if path == "/pipe-keep":
            req.pipe(res, end=False)
            req.on("end", lambda: res.end("|done"))
            return
        if path == "/destroy-mid-body":
            req.once("data", lambda _chunk: req.destroy())
            return
        if path == "/destroy-after-body":
            req.resume()

            def ended():
                req.destroy()
                loop.call_later(0.02, res.end, "after")
            req.on("end", ended)
            return
        if path == "/distinct":
            return res.end(json.dumps(req.headers_distinct, separators=(",", ":")))
        if path == "/set-headers":
            res.set_headers({"X-One": "1", "X-Two": ["a", "b"]})
            log("names", n=res.get_header_names())
            return res.end("x")
        if path == "/delay":
            loop.call_later(0.2, res.end, "delayed")
            return
        if path == "/slowbody":
            res.write("part1")
            loop.call_later(0.2, res.end, "part2")
            return
        if path == "/drain":
            chunk = b"a" * (1024 * 1024)
            n = [0]

            def pump():
                while n[0] < 8:
                    n[0] += 1
                    ok = res.write(chunk)
                    log("write", n=n[0], ok=ok)
                    if not ok:
                        def drained():
                            log("drain")
                            pump()
                        res.once("drain", drained)
                        return
                res.end()
            pump()
            return
        if path == "/read-then-never":
            req.resume()
            req.on("end", lambda: log("req.end"))
            return
        if path == "/remove-date":
            res.remove_header("Date")
            return res.end("x")
        if path == "/content-length-mismatch":
            res.set_header("Content-Length", "10")
            return res.end("abc")
        if path == "/get-header-types":
            res.set_header("X-Arr", ["1", "2"])
            res.set_header("X-Num", 7)
            log("types", arr=res.get_header("x-arr"), num=res.get_header("X-Num"), none=res.get_header("nope") is None)
            return res.end("x")
        if path == "/set-timeout":
            def timed_out(*_):
                log("res.timeout")
                res.end("timed")
            res.set_timeout(0.1, timed_out)
            return
        if path == "/close-server":
            server.close(lambda *_: log("close.cb"))
            loop.call_later(0.1, res.end, "closing")
            return
        if path == "/destroy-socket":
            res.write("part")
            loop.call_later(0.02, req.socket.destroy)
            return
        if path == "/res-destroy":
            res.write("part")
            loop.call_later(0.02, res.destroy)
            return
        if path == "/write-cb":
            res.write("a", lambda *_: log("write.cb"))
            res.end("b", lambda *_: log("end.cb"))
            return
        res.status_code = 404
        res.end("nf")
    server.on("request", on_request)

    async def for_await(req, res):
        if req.url != "/for-await":
            return
        chunks = []
        try:
            async for c in req:
                chunks.append(c.decode())
                log("chunk", c=c.decode())
        except Exception as exc:
            log("for-await.error", code=getattr(exc, "code", None))
            return
        res.end("got " + "".join(chunks))
    server.on("request", for_await)
