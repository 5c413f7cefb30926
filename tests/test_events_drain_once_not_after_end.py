"""A response's ``drain``: one when the socket drains, however many ``write()``s said
False before it, and none once ``end()`` was called, as Node's ``socketOnDrain`` emits it
(its one ``kNeedDrain`` flag, and ``!msg.finished``), and ``writable_need_drain`` is
False once ``end()`` was called. prefork emitted one per write that said False, and one
after ``end()`` (a listener that wrote on got ERR_STREAM_WRITE_AFTER_END; one that
destroyed lost the ``finish``)."""

import socket
import time

from harness import node_events

NODE = r"""
(async () => {
  for (const shape of ['end', 'ondrain', 'soon']) {
    await new Promise((resolve) => {
      const s = http.createServer((req, res) => {
        res.on('drain', () => {
          log('drain');
          if (shape === 'ondrain') res.end(() => log('endcb'));
          if (shape === 'soon') setImmediate(() => res.end(() => log('endcb')));
        });
        res.on('finish', () => log('finish'));
        res.on('close', () => log('close'));
        for (let i = 0; i < 32; i++) res.write(Buffer.alloc(65536, 97));
        if (shape === 'end') {
          log('need', res.writableNeedDrain);
          res.end(() => log('endcb'));
          log('need', res.writableNeedDrain);
        }
      });
      s.listen(0, '127.0.0.1', () => {
        const c = net.connect(s.address().port, '127.0.0.1');
        c.pause();
        c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        setTimeout(() => c.resume(), 150);
        c.on('data', () => {});
        c.on('close', () => { log('--'); s.close(); resolve(); });
      });
    });
  }
  done();
})();
"""


def prefork_events(serve, shape):
    def setup(server, st):
        def on_request(req, res):
            def on_drain():
                st.record("drain")
                if shape == "ondrain":
                    res.end(callback=lambda: st.record("endcb"))
                if shape == "soon":
                    server.loop.call_soon(lambda: res.end(callback=lambda: st.record("endcb")))
            res.on("drain", on_drain)
            res.on("finish", lambda: st.record("finish"))
            res.on("close", lambda: st.record("close"))
            for _ in range(32):
                res.write(b"a" * 65536)
            if shape == "end":
                st.record("need", res.writable_need_drain)
                res.end(callback=lambda: st.record("endcb"))
                st.record("need", res.writable_need_drain)
        server.on("request", on_request)
    st = serve(setup)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", st.port))
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.15)  # (the server's writes meet a full socket: they say False)
        while sock.recv(1 << 20):
            pass
    st.wait_for(lambda e: e == ("close",))
    return [list(e) for e in st.events] + [["--"]]


def test_one_drain_per_socket_drain_and_none_after_end_as_in_node(serve):
    got = prefork_events(serve, "end") + prefork_events(serve, "ondrain") + prefork_events(serve, "soon")
    expected = node_events(NODE)
    assert expected == [["need", True], ["need", False], ["finish"], ["endcb"], ["close"], ["--"]] + \
        [["drain"], ["finish"], ["endcb"], ["close"], ["--"]] * 2, expected
    assert got == expected
