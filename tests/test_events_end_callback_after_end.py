"""``res.end(callback)`` without data after ``res.end()``: Node 20 calls the callback at
once, inside the call, before the response's ``finish`` (with
ERR_STREAM_ALREADY_FINISHED; prefork's end callbacks take no argument), whether the
response has finished yet or not. The order below was observed on Node v20.20 with:

    const s = http.createServer((req, res) => {
      const u = req.url;
      res.on('finish', () => log(u, 'finish'));
      res.on('close', () => log(u, 'close'));
      res.on('error', (e) => log(u, 'error', e.code));
      if (u === '/same') { res.end('a'); res.end((e) => log(u, 'cb', e && e.code)); log(u, 'sync-after'); }
      else if (u === '/later') { res.end('a'); res.on('finish', () => setImmediate(() => {
        res.end((e) => log(u, 'cb', e && e.code)); log(u, 'sync-after'); })); }
      else if (u === '/twocb') { res.end('a', (e) => log(u, 'cb1', e && e.code));
        res.end((e) => log(u, 'cb2', e && e.code)); }
      else if (u === '/destroy') { res.end('a'); res.destroy(); res.end((e) => log(u, 'cb', e && e.code));
        log(u, 'sync-after'); }
    });

    /same cb ERR_STREAM_ALREADY_FINISHED, /same sync-after, /same finish, /same close
    /later finish, /later close, /later cb ERR_STREAM_ALREADY_FINISHED, /later sync-after
    /twocb cb2 ERR_STREAM_ALREADY_FINISHED, /twocb finish, /twocb cb1, /twocb close
    /destroy cb ERR_STREAM_ALREADY_FINISHED, /destroy sync-after, /destroy finish, /destroy close
"""

import socket

NODE_ORDER = {
    "/same": ["cb", "sync-after", "finish", "close"],
    "/later": ["finish", "close", "cb", "sync-after"],
    "/twocb": ["cb2", "finish", "cb1", "close"],
    "/destroy": ["cb", "sync-after", "finish", "close"],
}


def test_end_callback_after_end_runs_at_once_before_finish_as_in_node(serve):
    def on_request(req, res):
        u = req.url
        req.resume()
        res.on("finish", lambda: st.record(u, "finish"))
        res.on("close", lambda: st.record(u, "close"))
        res.on("error", lambda e: st.record(u, "error", e.code))
        if u == "/same":
            res.end("a")
            res.end(lambda: st.record(u, "cb"))
            st.record(u, "sync-after")
        elif u == "/later":
            res.end("a")

            def later():
                res.end(lambda: st.record(u, "cb"))
                st.record(u, "sync-after")
            res.on("finish", lambda: st.loop.call_soon(later))
        elif u == "/twocb":
            res.end("a", None, lambda: st.record(u, "cb1"))
            res.end(lambda: st.record(u, "cb2"))
        elif u == "/destroy":
            res.end("a")
            res.destroy()
            res.end(lambda: st.record(u, "cb"))
            st.record(u, "sync-after")
    st = serve(lambda server, _: server.on("request", on_request))
    for path, order in NODE_ORDER.items():
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            while sock.recv(65536):
                pass
        last = order[-1]
        st.wait_for(lambda event: event == (path, last))
        assert [e[1] for e in st.call(list, st.events) if e[0] == path] == order, st.events


def test_end_callback_after_a_large_end_waits_for_its_finish_as_in_node(serve):
    """Node 20: ``res.end(big); res.end(cb)`` to a client that reads late calls ``cb``
    at the ``finish`` (after the client read it all), not at once: its socket still
    holds the bytes (writableFinished false)."""
    big = b"a" * (20 << 20)

    def setup(server, st):
        def on_request(req, res):
            res.on("finish", lambda: st.record("finish"))
            res.end(big)
            res.end(lambda: st.record("cb"))
            st.record("sync-after")
        server.on("request", on_request)

    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st.wait_for(lambda e: e[0] == "sync-after")
        assert ("cb",) not in st.call(list, st.events)  # the body is still going out
        got = 0
        while chunk := conn.recv(1 << 20):
            got += len(chunk)
    assert got > len(big)
    st.wait_for(lambda e: e[0] == "cb")
    assert [e[0] for e in st.call(list, st.events)] == ["sync-after", "finish", "cb"]
