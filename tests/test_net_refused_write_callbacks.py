"""A write the kernel refuses inside the application's call (the client reset a
connection the server was not reading): the callbacks of the writes waiting run before
the failure is told (``clientError``, the socket's ``error``), as Node's errored write
calls them before it emits the error; one that destroys the socket leaves no error to
tell. prefork told the failure first and ran the callbacks on the close turn after it.
(Node also emits the response's ``finish`` for such a write; prefork counts the response
as cut: docs/node-compat.md.)"""

import socket

from harness import node_events
from held_reset import answer_then_wait, reset_when_paused, serve_held
import test_net_refused_write_uncork as uncork

NODE_SCRIPT = uncork.NODE_SCRIPT.replace(
    "log('request');", "log('request'); req.socket.on('error', (e) => log('socket.error ' + e.code));")

ANSWERS = {
    "res.write('a', () => log('cb1')); req.socket.end()":
        lambda req, res, log: (res.write("a", lambda: log("cb1")), req.socket.end()),
    "res.write('a', () => log('cb1')); res.write('b', () => log('cb2')); res.end()":
        lambda req, res, log: (res.write("a", lambda: log("cb1")), res.write("b", lambda: log("cb2")), res.end()),
    "res.write('a', () => { log('cb1'); req.socket.destroy(); }); res.end()":
        lambda req, res, log: (res.write("a", lambda: (log("cb1"), req.socket.destroy())), res.end()),
}


def run(serve, answer):
    def listen(req, res, record):
        req.socket.on("error", lambda err: record(f"socket.error {err.code}"))
        req.on("close", lambda: record("req.close"))
        req.on("error", lambda err: None)
    st, held = serve_held(serve, listen)
    client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    client.sendall((uncork.HEAD + "a" * 300000).encode())
    st.wait_for(lambda event: event == ("request",))
    req, res = held[0]
    reset_when_paused(st, req, client)
    answer_then_wait(st, lambda: answer(req, res, st.record))
    return [event[0] for event in st.events if event[0] != "req.close"]

def test_the_callbacks_come_before_the_error(serve):
    for name, answer in ANSWERS.items():
        ours = run(serve, answer)
        theirs = [event for event in node_events(NODE_SCRIPT.replace("BODY", name), joined=True)
                  if event.startswith(("request", "called", "cb", "clientError", "socket.error"))]
        assert ours == theirs, (name, ours, theirs)
