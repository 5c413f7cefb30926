"""Members of Node v20's ``http`` API checked against Node on the same requests: each
test runs a Node script (``node_events``) and prefork's twin and compares their logs."""

import json
import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop


def serve_once(handler, requests, **knobs):
    """Run ``handler`` on prefork for each raw request of ``requests`` (one connection
    each, read to its close); the events it logged (each a list) are returned."""
    loop = new_event_loop()
    events = []
    seen = []

    def on_request(req, res):
        handler(req, res, lambda *a: events.append(json.loads(json.dumps(list(a)))))
        seen.append(req)
        if len(seen) == len(requests):
            res.on("finish", lambda: loop.call_soon(loop.stop))
    server = prefork.create_server(on_request, loop=loop)
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
