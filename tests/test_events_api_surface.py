"""Node v20's API surface a ported handler uses, checked on Node by the script below:
``res.destroy()`` returns the response (``res.destroy().on(...)``); ``req.socket.ref()``
and ``unref()`` return the socket (nothing to do on a worker's loop); the server's
``IncomingMessage`` has Node's Readable state (``readable``, ``readable_length``,
``readable_aborted``, ``errored``, ``closed``) and ``ServerResponse`` its ``errored``
and ``closed``.
"""

import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop

NODE = r"""
const s = http.createServer((req, res) => {
  log('state', req.readable, req.readableLength, req.readableAborted, req.errored, req.closed, res.errored, res.closed);
  log('ref', req.socket.ref() === req.socket, req.socket.unref() === req.socket);
  res.end('ok');
  log('destroy', res.destroy() === res);
  s.close(); done();
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  c.on('error', () => {});
});
"""


def test_api_surface_matches_node():
    expected = node_events(NODE)
    assert expected == [["state", True, 0, False, None, False, None, False], ["ref", True, True], ["destroy", True]]
    loop = new_event_loop()
    events = []

    def on_request(req, res):
        def get(obj, name):
            return getattr(obj, name, "MISSING")
        events.append(["state", get(req, "readable"), get(req, "readable_length"), get(req, "readable_aborted"),
                       get(req, "errored"), get(req, "closed"), get(res, "errored"), get(res, "closed")])
        sock = req.socket
        events.append(["ref", hasattr(sock, "ref") and sock.ref() is sock, hasattr(sock, "unref") and sock.unref() is sock])
        res.end("ok")
        events.append(["destroy", res.destroy() is res])
        loop.call_soon(loop.stop)
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                c.recv(1000)
            except OSError:
                pass
    run_with_client(loop, client, server)
    assert events == expected


def test_early_hints_link_checked_as_node_checks_it():
    """Node's writeEarlyHints takes a Link value of the form ``<target>; param=value``
    (a list of them is joined with ", ") and refuses any other with
    ERR_INVALID_ARG_VALUE; a line end is refused where Node's pattern lets it by."""
    import pytest
    from prefork.http import serialize
    assert serialize.early_hints({"link": ["</a>; rel=preload", '</b>; rel="preload"; as=style']}) == \
        b'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload, </b>; rel="preload"; as=style\r\n\r\n'
    for bad, code in (("bad\r\n", "ERR_INVALID_ARG_VALUE"), ("", "ERR_INVALID_ARG_VALUE"),
                      ("a; rel=preload", "ERR_INVALID_ARG_VALUE"), ("<a\r\nX: y>; rel=preload", "ERR_INVALID_CHAR")):
        with pytest.raises(Exception) as info:
            serialize.early_hints({"link": bad})
        assert info.value.code == code, bad
