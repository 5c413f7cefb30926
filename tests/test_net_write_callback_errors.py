"""``socket.write(data, callback)``: a callback that takes an argument gets Node's
``err``: None once the bytes are in the kernel, the error that kept them from it
otherwise (the reset, ERR_STREAM_DESTROYED, ERR_STREAM_WRITE_AFTER_END), as Node's
``net.Socket`` passes it. prefork's callbacks took no argument (an application could not
tell a write that went out from one that never would); those still work unchanged."""

import json
import socket
import struct
import subprocess

from harness import need_node
from prefork.http.errors import HTTPError
from prefork.net import Socket

NODE_SCRIPT = r"""
const net = require('net');
const out = [];
const code = (e) => e ? e.code : null;
const srv = net.createServer(s => {
  s.on('error', () => {});
  s.write('ok', (e) => {
    out.push(['written', code(e)]);
    s.destroy();
    s.write('x', (e) => {
      out.push(['after destroy', code(e)]);
      const c2 = net.connect(srv.address().port);
      c2.on('error', () => {});
      c2.end();
      c2.write('y', (e) => { out.push(['after end', code(e)]); finish(); });
    });
  });
});
let n = 0;
const finish = () => { console.log(JSON.stringify(out)); process.exit(0); };
srv.listen(0, () => { const c = net.connect(srv.address().port); c.on('error', () => {}); c.resume(); });
"""


def pair(st):
    a, peer = socket.socketpair()
    a.setblocking(False)
    return st.call(lambda: Socket(st.loop, a)), peer


def code(err):
    return None if err is None else err.code


def test_the_callbacks_get_node_s_error(serve):
    st = serve()
    sock, peer = pair(st)

    def first():
        sock.on("error", lambda err: None)
        sock.write(b"ok", lambda err: st.record("written", code(err)))
    st.call(first)
    st.wait_for(lambda e: e[0] == "written")

    def second():
        sock.destroy()
        sock.write(b"x", lambda err: st.record("after destroy", code(err)))
    st.call(second)
    st.wait_for(lambda e: e[0] == "after destroy")
    other, other_peer = pair(st)

    def third():
        other.on("error", lambda err: None)
        other.end()
        other.write(b"y", lambda err: st.record("after end", code(err)))
    st.call(third)
    st.wait_for(lambda e: e[0] == "after end")
    ours = [list(e) for e in st.events]
    node = subprocess.run([need_node(), "-e", NODE_SCRIPT], capture_output=True, text=True, timeout=10)
    assert ours == json.loads(node.stdout) == [
        ["written", None], ["after destroy", "ERR_STREAM_DESTROYED"], ["after end", "ERR_STREAM_WRITE_AFTER_END"]]
    st.call(other.destroy)
    for s in (peer, other_peer):
        s.close()


def test_callbacks_with_no_argument_still_run(serve):
    st = serve()
    sock, peer = pair(st)
    st.call(lambda: (sock.write(b"ok", lambda: st.record("written")), sock.on("error", lambda err: None)))
    st.wait_for(lambda e: e == ("written",))
    st.call(lambda: (sock.end(), sock.write(b"x", lambda: st.record("after end"))))
    st.wait_for(lambda e: e == ("after end",))
    st.call(lambda: sock.write(b"x", lambda: st.record("after destroy")))
    st.wait_for(lambda e: e == ("after destroy",))
    peer.close()


def test_pending_writes_get_the_destroy_s_error(serve):
    """The write the kernel had begun to take gets None (Node's write handed to the
    system, cancelled by the close: tests/test_net_socket_destroy_write_order.py), the one
    queued behind it the destroy's error."""
    st = serve()
    big = b"x" * (4 << 20)  # more than the socket pair's buffers take: it waits
    for error, expected in ((None, "ERR_STREAM_DESTROYED"), (HTTPError("EMINE", "mine"), "EMINE")):
        sock, peer = pair(st)

        def start():
            sock.on("error", lambda err: None)
            sock.write(big, lambda err: st.record("big", code(err)))
            sock.write(b"tail", lambda err: st.record("tail", code(err)))
            sock.destroy(error)
        st.call(start)
        st.wait_for(lambda e: e[0] == "tail")
        assert [e for e in st.events if e[0] in ("big", "tail")] == [("big", None), ("tail", expected)]
        st.events.clear()
        peer.close()


def test_a_reset_under_waiting_writes_reaches_their_callbacks(serve):
    st = serve()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname(), timeout=5)
    accepted, _ = listener.accept()
    accepted.setblocking(False)
    sock = st.call(lambda: Socket(st.loop, accepted))

    def start():
        sock.on("error", lambda err: st.record("error", err.code))
        sock.on("close", lambda had_error: st.record("close", had_error))
        sock.write(b"x" * (8 << 20), lambda err: st.record("cb", code(err)))
    st.call(start)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset, the write still waiting
    st.wait_for(lambda e: e[0] == "close")
    callbacks = [e for e in st.events if e[0] == "cb"]
    assert callbacks in ([("cb", "ECONNRESET")], [("cb", "EPIPE")]), st.events
    listener.close()
