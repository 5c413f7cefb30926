"""``socket.bytes_written`` counts every byte written, those a destroy drops too (Node
20's ``bytesWritten`` keeps them): a large write to a client that does not read, then
``destroy()``, leaves the count where it was. The same check runs on Node's own server
when Node is installed."""

import socket

from harness import node_events

SIZE = 8 * 1024 * 1024

NODE_SCRIPT = r"""
const s = http.createServer((req, res) => {
  const sock = req.socket;
  res.write(Buffer.alloc(%d, 97));
  const written = sock.bytesWritten;
  setTimeout(() => {  // (Node hands it all to libuv: nothing to wait for)
    sock.destroy();
    log(sock.bytesWritten === written, written > %d);
    setImmediate(() => { log(sock.bytesWritten === written); s.close(); c.destroy(); done(); });
  }, 50);
});
let c;
s.listen(0, '127.0.0.1', () => { c = net.connect(s.address().port, '127.0.0.1', () => {
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); c.pause(); }); c.on('error', () => {}); });
""" % (SIZE, SIZE)


def test_bytes_written_keeps_what_a_destroy_dropped(serve):
    def on_request(req, res):
        sock = req.socket
        res.write(b"a" * SIZE)
        written = sock.bytes_written

        def check(tries=0):
            if sock.buffered_size == written and tries < 400:
                sock.loop.call_later(0.005, check, tries + 1)  # (until the kernel took some)
                return
            st.record("before", sock.buffered_size > 0, written > SIZE)
            sock.destroy()
            st.record("destroyed", sock.bytes_written == written)
            sock.loop.call_soon(lambda: st.record("next", sock.bytes_written == written))
        check()
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event[0] == "next")
    assert st.events == [("before", True, True), ("destroyed", True), ("next", True)], st.events
    assert node_events(NODE_SCRIPT) == [[True, True], [True]]
