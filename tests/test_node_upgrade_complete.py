"""An upgrade or CONNECT request reaches its listener complete, as in Node 20: its
``complete`` is True at the ``upgrade``/``connect`` event (the bytes after the head are
the listener's, not a body), and a reader it gets there sees its ``end``, then its
``close``. The same client runs against Node's own server when Node is installed."""

import socket

from harness import node_events

UPGRADE = "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\nabc"
UPGRADE_POST = "POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\nContent-Length: 3\r\n\r\nabc"
CONNECT = "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\nxyz"
SENDS = [UPGRADE, CONNECT, UPGRADE_POST]

NODE_SCRIPT = r"""
const sends = %s;
const s = http.createServer((req, res) => res.end('x'));
const take = (name) => (req, sock, head) => {
  log(name, req.complete, head.length, req.readableEnded);
  req.on('end', () => log('end')); req.on('close', () => log('close'));
  req.resume();
  const check = () => {
    if (req.destroyed) { log('later', req.readableEnded, req.destroyed); sock.destroy(); }
    else setTimeout(check, 5);
  };
  check();
};
s.on('upgrade', take('upgrade'));
s.on('connect', take('connect'));
s.listen(0, '127.0.0.1', async () => {
  for (const t of sends) {
    await new Promise((d) => { const c = net.connect(s.address().port, '127.0.0.1', () => c.write(t));
      c.on('close', d); c.on('error', () => {}); c.resume(); });
  }
  s.close(); done();
});
"""


def prefork_events(serve):
    def take(name):
        def listener(req, sock, head):
            st.record(name, req.complete, len(head), req.readable_ended)
            req.on("end", lambda: st.record("end"))
            req.on("close", lambda: st.record("close"))
            req.resume()

            def check(tries=0):
                if req.destroyed or tries > 400:
                    st.record("later", req.readable_ended, req.destroyed)
                    sock.destroy()
                else:
                    sock.loop.call_later(0.005, check, tries + 1)
            check()
        return listener

    def setup(server, _):
        server.on("request", lambda req, res: res.end("x"))
        server.on("upgrade", take("upgrade"))
        server.on("connect", take("connect"))
    st = serve(setup)
    for text in SENDS:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(text.encode("latin-1"))
            while sock.recv(65536):
                pass
    st.call(lambda: None)
    return [list(event) for event in st.call(list, st.events)]


def test_upgrade_and_connect_requests_are_complete_and_end_as_in_node(serve):
    ours = prefork_events(serve)
    one = lambda name: [[name, True, 3, False], ["end"], ["close"], ["later", True, True]]  # noqa: E731
    assert ours == one("upgrade") + one("connect") + one("upgrade"), ours
    import json
    theirs = node_events(NODE_SCRIPT % json.dumps(SENDS))
    assert theirs == ours, (theirs, ours)
