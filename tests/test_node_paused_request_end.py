"""A request paused in its listener (``req.pause()``) whose response ends first gets its
``end`` and ``close`` after the response's ``finish`` and ``close`` (Node 20's dump at
the finish), not at ``res.end()``; one resumed before the answer ends at once. Bodiless
and with a body complete in the head's read; the same client runs against Node's own
server when Node is installed."""

import json
import socket

from harness import node_events

CASES = [("/end-then-resume", ""), ("/end-then-resume", "hello"), ("/resume-then-end", ""),
         ("/resume-then-end", "hello"), ("/end-at-once", ""), ("/end-at-once", "hello")]

NODE_SCRIPT = r"""
const cases = %s;
let out = [];
const L = (e) => out.push(e);
const s = http.createServer((req, res) => {
  L('request');
  for (const ev of ['end', 'close', 'aborted']) req.on(ev, () => L('req.' + ev));
  for (const ev of ['finish', 'close']) res.on(ev, () => L('res.' + ev));
  req.pause();
  const end = () => { res.end('x'); L('ended'); }, resume = () => { req.resume(); L('resumed'); };
  if (req.url === '/end-then-resume') setTimeout(() => { end(); setTimeout(resume, 20); }, 10);
  if (req.url === '/resume-then-end') setTimeout(() => { resume(); setTimeout(end, 20); }, 10);
  if (req.url === '/end-at-once') end();
});
s.listen(0, '127.0.0.1', async () => {
  for (const [path, body] of cases) {
    out = [];
    await new Promise((d) => { const k = net.connect(s.address().port, '127.0.0.1', () => k.write(
      (body ? 'POST ' : 'GET ') + path + ' HTTP/1.1\r\nHost: x\r\nContent-Length: ' + body.length + '\r\n\r\n' + body));
      k.on('data', () => {}); k.on('close', d); k.on('error', () => {});
      const wait = () => out.includes('req.close') && out.includes('res.close')
        && (path === '/end-at-once' || out.includes('resumed')) ? k.end() : setTimeout(wait, 5);
      wait(); });
    log(path, body, out);
  }
  s.close(); done();
});
"""


def prefork_events(serve):
    out = []

    def record(event):
        out.append(event)
        st.record(event)

    def on_request(req, res):
        record("request")
        for event in ("end", "close", "aborted"):
            req.on(event, lambda event=event: record("req." + event))
        for event in ("finish", "close"):
            res.on(event, lambda event=event: record("res." + event))
        req.pause()
        loop = req.socket.loop

        def end():
            res.end("x")
            record("ended")

        def resume():
            req.resume()
            record("resumed")
        if req.url == "/end-then-resume":
            loop.call_later(0.01, lambda: (end(), loop.call_later(0.02, resume)))
        elif req.url == "/resume-then-end":
            loop.call_later(0.01, lambda: (resume(), loop.call_later(0.02, end)))
        elif req.url == "/end-at-once":
            end()
    st = serve(lambda server, _: server.on("request", on_request))
    seen = []
    for path, body in CASES:
        st.call(out.clear)
        st.events.clear()
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            method = "POST" if body else "GET"
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
            st.wait_for(lambda event: ("req.close",) in st.events and ("res.close",) in st.events
                        and (path == "/end-at-once" or ("resumed",) in st.events))
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        seen.append([path, body, st.call(list, out)])
    return seen


ANSWERED = ["ended", "res.finish", "res.close"]


def expected():
    out = []
    for path, body in CASES:
        if path == "/end-then-resume":
            events = ["request", *ANSWERED, "req.end", "req.close", "resumed"]
        elif path == "/resume-then-end":
            events = ["request", "resumed", "req.end", "req.close", *ANSWERED]
        else:
            events = ["request", *ANSWERED, "req.end", "req.close"]
        out.append([path, body, events])
    return out


def test_a_paused_request_ends_after_its_responses_close_as_in_node(serve):
    ours = prefork_events(serve)
    assert ours == expected(), ours
    theirs = node_events(NODE_SCRIPT % json.dumps(CASES))
    assert theirs == ours, (theirs, ours)
