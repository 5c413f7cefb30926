"""``socket.pipe(dest)`` made after the source emitted ``end`` ends ``dest``, as Node's
``pipe()`` does (its ``endEmitted`` check ends the destination on the next tick): a
proxy that connects upstream only after the client finished sending still passes the
FIN on. prefork's waited for an ``end`` that had come already: the destination's peer
never saw a FIN."""

import socket
import subprocess

from harness import need_node
from prefork.net import Socket

NODE_SCRIPT = r"""
const net = require('net');
const dst_srv = net.createServer(s => { s.on('end', () => { console.log('destination peer saw FIN'); process.exit(0); }); s.resume(); });
dst_srv.listen(0, () => {
  const srv = net.createServer({allowHalfOpen: true}, src => {
    src.on('end', () => {
      console.log('src end');
      setTimeout(() => { const dst = net.connect(dst_srv.address().port, () => { src.pipe(dst); }); }, 20);
    });
    src.resume();
  });
  srv.listen(0, () => { const c = net.connect(srv.address().port, () => c.end()); });
});
setTimeout(() => { console.log('no FIN'); process.exit(1); }, 3000);
"""


def pipe_after_end(st, end):
    a, peer_a = socket.socketpair()
    c, peer_c = socket.socketpair()
    a.setblocking(False)
    c.setblocking(False)
    peer_c.settimeout(5)
    holder = {}

    def start():
        src = holder["src"] = Socket(st.loop, a)
        src.on("data", lambda data: st.record("data", data))
        src.on("end", lambda: st.record("end"))
        src.resume()
    st.call(start)
    peer_a.sendall(b"before")
    peer_a.shutdown(socket.SHUT_WR)
    st.wait_for(lambda e: e == ("end",))

    def pipe():
        holder["dst"] = Socket(st.loop, c)
        holder["src"].pipe(holder["dst"], end=end)
    st.call(pipe)
    return holder, peer_a, peer_c


def test_a_pipe_made_after_the_end_ends_its_destination(serve):
    st = serve()
    holder, peer_a, peer_c = pipe_after_end(st, True)
    assert peer_c.recv(100) == b""  # the FIN passed on (a timeout here: it never came)
    st.call(lambda: (holder["src"].destroy(), holder["dst"].destroy()))
    peer_a.close()
    peer_c.close()


def test_end_false_leaves_the_destination_open(serve):
    st = serve()
    holder, peer_a, peer_c = pipe_after_end(st, False)
    st.call(lambda: holder["dst"].write(b"still open"))
    assert peer_c.recv(100) == b"still open"
    assert st.call(lambda: holder["dst"].writable_ended) is False
    st.call(lambda: (holder["src"].destroy(), holder["dst"].destroy()))
    peer_a.close()
    peer_c.close()


def test_node_ends_the_destination_too():
    out = subprocess.run([need_node(), "-e", NODE_SCRIPT], capture_output=True, text=True, timeout=10).stdout
    assert out.split("\n") == ["src end", "destination peer saw FIN", ""]
