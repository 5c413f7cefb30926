"""``res.end()`` on a response already closed: Node 20 emits ``prefinish`` inside the
call when the response held its socket (destroyed before its head, after it, after a
write, ``end(data)`` too, or its connection reset by the peer), and never ``finish``
nor the end callback; a pipelined response destroyed while waiting its turn gets none.
The orders below were observed on Node v20.20 with:

    const s = http.createServer((req, res) => {
      const u = req.url;
      req.resume();
      for (const ev of ['prefinish', 'finish', 'close', 'error']) res.on(ev, () => log(u, ev));
      if (u === '/gone') res.on('close', () => { res.end(() => log(u, 'end-cb')); log(u, 'after-end'); });
      else if (u === '/first') setTimeout(() => res.end('1'), 100);
      else {
        if (u === '/head') res.flushHeaders();
        if (u === '/write') res.write('x');
        res.destroy();
        res.end(u === '/data' ? 'zz' : undefined, () => log(u, 'end-cb'));
        log(u, 'after-end');
      }
    });

each path on a connection of its own (``/gone``: the client resets it; ``/first`` and
``/second`` pipelined on one):

    /nohead prefinish, after-end, close      /head prefinish, after-end, close
    /write prefinish, after-end, close       /data prefinish, after-end, close
    /gone close, prefinish, after-end        /second after-end, close
"""

import socket
import struct

NODE_ORDER = {
    "/nohead": ["prefinish", "after-end", "close"],
    "/head": ["prefinish", "after-end", "close"],
    "/write": ["prefinish", "after-end", "close"],
    "/data": ["prefinish", "after-end", "close"],
    "/gone": ["close", "prefinish", "after-end"],
    "/first": ["prefinish", "finish", "close"],
    "/second": ["after-end", "close"],
}


def test_end_after_the_response_closed_emits_prefinish_as_in_node(serve):
    def on_request(req, res):
        u = req.url
        req.resume()
        for event in ("prefinish", "finish", "close", "error"):
            res.on(event, lambda *_, event=event: st.record(u, event))
        if u == "/gone":
            def closed():
                res.end(lambda: st.record(u, "end-cb"))
                st.record(u, "after-end")
            res.on("close", closed)
            st.record(u, "request")
        elif u == "/first":
            st.loop.call_later(0.1, res.end, "1")
        else:
            if u == "/head":
                res.flush_headers()
            if u == "/write":
                res.write("x")
            res.destroy()
            res.end("zz" if u == "/data" else None, None, lambda: st.record(u, "end-cb"))
            st.record(u, "after-end")
    st = serve(lambda server, _: server.on("request", on_request))
    for path in ("/nohead", "/head", "/write", "/data"):
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            while sock.recv(65536):
                pass
        st.wait_for(lambda event: event == (path, "close"))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event == ("/gone", "request"))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    st.wait_for(lambda event: event == ("/gone", "after-end"))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        while sock.recv(65536):
            pass
    st.wait_for(lambda event: event == ("/second", "close"))
    st.wait_for(lambda event: event == ("/first", "close"))
    events = st.call(list, st.events)
    ours = {path: [e[1] for e in events if e[0] == path and e[1] != "request"] for path in NODE_ORDER}
    assert ours == NODE_ORDER
