"""A write the kernel refuses while the caller's call runs is told on the next turn,
also when the refused bytes were queued first (written while the response held the
socket's turn, or corked) and go out in that call's ``uncork()``: ``res.write()`` then
``res.end()``, or ``res.write()`` then ``socket.end()``, to a client that reset the
connection. Node's server emits the ``clientError`` after the call returned for both
(checked against node below)."""

import socket

from harness import node_events
from held_reset import answer_then_wait, reset_when_paused, serve_held

HEAD = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"

NODE_SCRIPT = r"""
const s = http.createServer((req, res) => {
  req.pause();
  global.answer = () => { BODY; log('called'); };
  log('request');
});
s.on('clientError', (e, sock) => { log('clientError ' + e.code); sock.destroy(); });
s.listen(0, '127.0.0.1', () => {
  const k = net.connect(s.address().port, '127.0.0.1', () => {
    k.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n' + 'a'.repeat(300000));
    const wait = () => global.answer ? setTimeout(() => { k.resetAndDestroy();
      setTimeout(() => { global.answer(); setTimeout(() => { s.close(); done(); }, 100); }, 20); }, 20)
      : setTimeout(wait, 5);
    wait();
  });
  k.on('error', () => {});
});
"""

ANSWERS = {
    "res.write('a'); res.write('b'); res.end('c')": lambda req, res: (res.write("a"), res.write("b"), res.end("c")),
    "res.write('a'); req.socket.end()": lambda req, res: (res.write("a"), req.socket.end()),
}


def run(serve, answer):
    st, held = serve_held(serve, lambda req, res, record: (req.on("close", lambda: record("req.close")),
                                                         req.on("error", lambda err: None)))
    client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    client.sendall((HEAD + "a" * 300000).encode())
    st.wait_for(lambda event: event == ("request",))
    req, res = held[0]
    reset_when_paused(st, req, client)
    answer_then_wait(st, lambda: answer(req, res))
    return [event[0] for event in st.events if event[0] != "req.close"]

def test_a_refused_uncork_is_told_after_the_call(serve):
    for name, answer in ANSWERS.items():
        assert run(serve, answer) == ["request", "called", "clientError ECONNRESET"], name


def test_node_tells_it_after_the_call():
    for name in ANSWERS:
        theirs = [event[0] for event in node_events(NODE_SCRIPT.replace("BODY", name))]
        assert theirs[:3] == ["request", "called", "clientError ECONNRESET"], (name, theirs)
