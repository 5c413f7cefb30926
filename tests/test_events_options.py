"""Node v20's ``http.createServer`` options ``joinDuplicateHeaders`` and
``uniqueHeaders`` (``join_duplicate_headers``, ``unique_headers``), so that a Node program
ported as written starts and behaves the same. Node: with
``joinDuplicateHeaders: true`` every repeated request field is joined with ", " in
``req.headers`` (``content-type: a, b``, ``user-agent: u1, u2``, where the default keeps
the first); with ``uniqueHeaders: ['x-u']`` a list given to ``setHeader('X-U', [...])``
goes out as one line joined with "; " (``X-U: 1; 2``)."""

import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop

REQUEST = (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\ncontent-type: b\r\n"
           b"User-Agent: u1\r\nUser-Agent: u2\r\nConnection: close\r\n\r\n")

NODE = r"""
const s = http.createServer({joinDuplicateHeaders: true, uniqueHeaders: ['x-u']}, (req, res) => {
  log('headers', req.headers['content-type'], req.headers['user-agent']);
  res.setHeader('X-U', ['1', '2']); res.setHeader('X-M', ['1', '2']); res.end('ok');
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write(REQUEST));
  let got = '';
  c.on('data', (d) => { got += d; });
  c.on('close', () => { log('fields', got.split('\r\n').filter((l) => /^X-/.test(l))); s.close(); done(); });
});
"""


def test_join_duplicate_headers_and_unique_headers_options():
    expected = node_events("const REQUEST = " + repr(REQUEST.decode()).replace("'", '"') + ";\n" + NODE)
    assert expected == [["headers", "a, b", "u1, u2"], ["fields", ["X-U: 1; 2", "X-M: 1", "X-M: 2"]]]
    loop = new_event_loop()
    events = []

    def on_request(req, res):
        events.append(["headers", req.headers["content-type"], req.headers["user-agent"]])
        res.set_header("X-U", ["1", "2"])
        res.set_header("X-M", ["1", "2"])
        res.end("ok")
    server = prefork.create_server(on_request, loop=loop, join_duplicate_headers=True, unique_headers=["x-u"])
    server.listen(0)
    port = server.address()["port"]

    def client():
        data = b""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(REQUEST)
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        finally:
            events.append(["fields", [l for l in data.decode("latin-1").split("\r\n") if l.startswith("X-")]])
            loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)
    assert events == expected


def test_join_duplicate_headers_joins_trailers_too_and_options_are_checked():
    import pytest
    loop = new_event_loop()
    seen = []

    def on_request(req, res):
        req.on("end", lambda: (seen.append(dict(req.trailers)), res.end("ok")))
        req.resume()
    server = prefork.create_server(on_request, loop=loop, join_duplicate_headers=True)
    server.listen(0)
    port = server.address()["port"]

    def client():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                          b"1\r\na\r\n0\r\nServer: 1\r\nserver: 2\r\n\r\n")
                while c.recv(4096):
                    pass
        finally:
            loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)
    assert seen == [{"server": "1, 2"}]  # (by default the first wins, as in Node)
    for bad in ({"join_duplicate_headers": "yes"}, {"unique_headers": "x-u"}, {"unique_headers": [1]}):
        with pytest.raises(TypeError) as info:
            prefork.create_server(**bad)
        assert info.value.code == "ERR_INVALID_ARG_TYPE"
