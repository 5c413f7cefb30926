"""A request destroyed with body bytes still buffered, then given a ``data`` listener:
the buffered bytes come to it before the request's ``close`` (and the response's), as
Node 20 emits them (its flow runs on the next tick, its close only once the socket has
closed). prefork delivered them after both ``close`` events."""

import socket

from harness import node_events

NODE_SCRIPT = r"""
const s = http.createServer((req, res) => {
  log('request');
  setTimeout(() => {
    log('buffered ' + req.readableLength);
    req.destroy();
    log('destroyed');
    req.on('data', (d) => log('data ' + d.length));
    req.on('error', (e) => log('error ' + e.code));
    req.on('close', () => { log('close'); });
    res.on('close', () => { log('res.close'); setTimeout(() => { s.close(); done(); }, 50); });
  }, 100);
});
s.listen(0, '127.0.0.1', () => {
  const k = net.connect(s.address().port, '127.0.0.1', () => {
    k.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello');
  });
  k.on('data', () => {}); k.on('error', () => {});
});
"""


def test_buffered_bytes_come_before_the_close(serve):
    def on_request(req, res):
        st.record("request")

        def later():
            st.record(f"buffered {req.readable_length}")
            req.destroy()
            st.record("destroyed")
            req.on("data", lambda chunk: st.record(f"data {len(chunk)}"))
            req.on("error", lambda err: st.record(f"error {err.code}"))
            req.on("close", lambda: st.record("close"))
            res.on("close", lambda: st.record("res.close"))
        req.socket.loop.call_later(0.1, later)

    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        st.wait_for(lambda event: event == ("res.close",))
    ours = [event[0] for event in st.events]
    theirs = node_events(NODE_SCRIPT, joined=True)
    assert theirs == ["request", "buffered 5", "destroyed", "data 5", "close", "res.close"], theirs
    assert ours == theirs
