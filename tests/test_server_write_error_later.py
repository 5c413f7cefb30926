"""A response's ``end()`` whose bytes the kernel refuses (the client reset a connection
the server was not reading: an upload nobody reads filled the buffers) tells that
failure on the next turn, as Node's socket tells a write's error: the ``clientError``
(ECONNRESET), the request's ``aborted``, the response's ``close``... all come after the
``end()`` call has returned, never inside it, whether the response keeps the connection
or closes it. Node's own server, for the same client, also emits the ``clientError``
after the call."""

import socket

from harness import node_events
from held_reset import answer_then_wait, reset_when_paused, serve_held

HEAD = "POST / HTTP/1.1\r\nHost: x\r\n{}Content-Length: 100000000\r\n\r\n"

NODE_SCRIPT = r"""
const s = http.createServer((req, res) => {
  req.on('aborted', () => log('req.aborted'));
  res.on('close', () => log('res.close'));
  req.pause();
  global.answer = () => { res.end('x'); log('called'); };
  log('request');
});
s.on('clientError', (e, sock) => { log('clientError ' + e.code); sock.destroy(); });
s.listen(0, '127.0.0.1', () => {
  const k = net.connect(s.address().port, '127.0.0.1', () => {
    k.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n' + 'a'.repeat(300000));
    const wait = () => global.answer ? setTimeout(() => { k.resetAndDestroy();
      setTimeout(() => { global.answer(); setTimeout(() => { s.close(); done(); }, 50); }, 20); }, 20)
      : setTimeout(wait, 5);
    wait();
  });
  k.on('error', () => {});
});
"""


def run(serve, close):
    def listen(req, res, record):
        for event in ("close", "aborted"):
            req.on(event, lambda event=event: record("req." + event))
        req.on("error", lambda err: record("req.error " + err.code))
        res.on("close", lambda: record("res.close"))
    st, held = serve_held(serve, listen)
    client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    client.sendall((HEAD.format("Connection: close\r\n" if close else "") + "a" * 300000).encode())
    st.wait_for(lambda event: event == ("request",))
    req, res = held[0]
    reset_when_paused(st, req, client)
    answer_then_wait(st, lambda: res.end("x"))
    return [event[0] for event in st.events]

def test_a_refused_write_is_told_after_the_call(serve):
    for close in (False, True):
        assert run(serve, close) == ["request", "called", "clientError ECONNRESET", "req.aborted", "res.close",
                                     "req.error ECONNRESET", "req.close"]
    theirs = [event[0] for event in node_events(NODE_SCRIPT)]
    assert theirs[:2] == ["request", "called"] and "clientError ECONNRESET" in theirs, theirs
