"""The response head a request listener builds (``write_head``, ``status_message``, the
header names), side by side with Node's own http.Server.

Each route exists twice, as a Node listener and as a prefork listener making the same
calls. A raw socket sends the same request to both; the bytes that come back (Date
masked) must be equal, and so must what the listener noted (error codes, events,
attributes), fetched from ``/report/<route>``. ``test_events_body``,
``test_events_request`` and ``test_events_sweep`` use the same machinery.

Rules under test (Node v20's):
- ``write_head(code)`` keeps a ``status_message`` set before it; a message given to it,
  even ``""``, is the one sent.
- ``write_head`` refuses a flat header list of odd length (``ERR_INVALID_ARG_VALUE``),
  and a ``write_head`` that raises for a bad field leaves no field of its own behind.
- ``get_raw_header_names()`` gives the names as first spelled.
- A bytes field value is its text (Node's Buffer), checked as text: CR or LF in it is
  ``ERR_INVALID_CHAR``; ``write_head`` takes any mapping as Node takes any object.
- An application's Keep-Alive field stands alone: the automatic one is left out.
"""

import json
import socket
import time
import types
from contextlib import contextmanager

import pytest

from harness import NODE, mask, node_script_port, read_until_close

NODE_PRELUDE = r"""
const http = require('http');
const seen = {};
function note(path, item) { (seen[path] = seen[path] || []).push(item); }
const routes = {
"""

NODE_EPILOGUE = r"""
};
const s = http.createServer((req, res) => {
  if (req.url.startsWith('/report/')) { res.end(JSON.stringify(seen['/' + req.url.slice(8)] || [])); return; }
  routes[req.url](req, res);
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""


@contextmanager
def node_server(routes):
    """Node's http.Server with ``routes`` (JS ``'path': (req, res) => ...`` entries); its port."""
    if NODE is None:
        pytest.skip("node is not installed")
    with node_script_port(NODE_PRELUDE + routes + NODE_EPILOGUE) as port:
        yield port


def prefork_setup(routes):
    """A ``serve`` setup answering ``routes`` ({path: listener(req, res, note)}, plain or
    coroutine functions) and
    ``/report/<route>`` (what ``note(path, item)`` kept for it, as JSON)."""
    def setup(server, _st):
        seen = {}

        def note(path, item):
            seen.setdefault(path, []).append(item)

        def on_request(req, res):
            if req.url.startswith("/report/"):
                res.end(json.dumps(seen.get("/" + req.url[8:], []), separators=(",", ":")))
                return
            return routes[req.url](req, res, note)  # a coroutine listener's coroutine runs as a task
        server.on("request", on_request)
    return setup


def exchange(port, pieces):
    """Send ``pieces`` (a pause between them, so they tend to arrive as reads of their
    own) and read until the server closes; the bytes with Date masked."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(0.02)  # pacing only: the outcome must not depend on the split
            sock.sendall(piece)
        return mask(read_until_close(sock))
    finally:
        sock.close()


def get(path, headers=b""):
    return b"GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (path.encode(), headers)


def report(port, path, until=None):
    """What the listener noted for ``path``; with ``until``, polled until that item is in."""
    deadline = time.monotonic() + 5
    while True:
        seen = json.loads(exchange(port, [get("/report" + path)]).split(b"\r\n\r\n", 1)[1])
        if until is None or until in seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.01)


def both(ports, pieces, path, until=None):
    """(bytes, report) from prefork, asserted equal to Node's."""
    ours = exchange(ports["prefork"], pieces), report(ports["prefork"], path, until)
    theirs = exchange(ports["node"], pieces), report(ports["node"], path, until)
    assert ours == theirs
    return ours


def body_of(data):
    return data.split(b"\r\n\r\n", 1)[1]


NODE_ROUTES = r"""
  '/status-message-kept': (req, res) => { res.statusMessage = 'Custom'; res.writeHead(201); res.end('x'); },
  '/status-message-empty': (req, res) => { res.writeHead(200, ''); res.end('x'); },
  '/flat-odd': (req, res) => {
    try { res.writeHead(200, ['X-A', '1', 'X-B']); } catch (e) { note(req.url, e.code); }
    res.end('x');
  },
  '/bad-field': (req, res) => {
    try { res.writeHead(200, {'X-A': '1', 'X-B': 'a\r\nb'}); } catch (e) { note(req.url, e.code); }
    res.end('x');
  },
  '/bytes-value': (req, res) => {
    res.setHeader('X-B', Buffer.from('abc')); res.setHeader('X-L', [Buffer.from('a'), 'b']);
    try { res.setHeader('X-C', Buffer.from('a\r\nX-Injected: 1')); } catch (e) { note(req.url, e.code); }
    try { res.appendHeader('X-B', Buffer.from('\n')); } catch (e) { note(req.url, e.code); }
    res.end('x');
  },
  '/keep-alive-field': (req, res) => { res.setHeader('Keep-Alive', 'timeout=99'); res.end('x'); },
  '/mapping': (req, res) => { res.writeHead(200, {'X-A': '1', 'X-B': '2'}); res.end('x'); },
  '/raw-names': (req, res) => {
    res.setHeader('X-Abc', 1); res.setHeader('set-Cookie', ['a', 'b']); res.appendHeader('x-abc', 2);
    note(req.url, res.getRawHeaderNames());
    res.end('x');
  },
"""


def status_message_kept(req, res, note):
    res.status_message = "Custom"
    res.write_head(201)
    res.end("x")


def status_message_empty(req, res, note):
    res.write_head(200, "")
    res.end("x")


def flat_odd(req, res, note):
    try:
        res.write_head(200, ["X-A", "1", "X-B"])
    except ValueError as err:
        note(req.url, err.code)
    res.end("x")


def bad_field(req, res, note):
    try:
        res.write_head(200, {"X-A": "1", "X-B": "a\r\nb"})
    except ValueError as err:
        note(req.url, err.code)
    res.end("x")


def bytes_value(req, res, note):
    res.set_header("X-B", b"abc")
    res.set_header("X-L", [b"a", "b"])
    try:
        res.set_header("X-C", b"a\r\nX-Injected: 1")
    except ValueError as err:
        note(req.url, err.code)
    try:
        res.append_header("X-B", b"\n")
    except ValueError as err:
        note(req.url, err.code)
    res.end("x")


def keep_alive_field(req, res, note):
    res.set_header("Keep-Alive", "timeout=99")
    res.end("x")


def mapping(req, res, note):
    res.write_head(200, types.MappingProxyType({"X-A": "1", "X-B": "2"}))
    res.end("x")


def raw_names(req, res, note):
    res.set_header("X-Abc", 1)
    res.set_header("set-Cookie", ["a", "b"])
    res.append_header("x-abc", 2)
    note(req.url, res.get_raw_header_names())
    res.end("x")


ROUTES = {"/status-message-kept": status_message_kept, "/status-message-empty": status_message_empty,
          "/flat-odd": flat_odd, "/bad-field": bad_field, "/raw-names": raw_names,
          "/bytes-value": bytes_value, "/mapping": mapping, "/keep-alive-field": keep_alive_field}


@pytest.fixture(scope="module")
def node_port():
    with node_server(NODE_ROUTES) as port:
        yield port


@pytest.fixture
def ports(serve, node_port):
    return {"node": node_port, "prefork": serve(prefork_setup(ROUTES)).port}


def test_write_head_keeps_a_status_message_set_before_it_as_node(ports):
    data, _ = both(ports, [get("/status-message-kept")], "/status-message-kept")
    assert data.startswith(b"HTTP/1.1 201 Custom\r\n")
    data, _ = both(ports, [get("/status-message-empty")], "/status-message-empty")
    assert data.startswith(b"HTTP/1.1 200 \r\nDate: <DATE>\r\n")


@pytest.mark.parametrize("path, code", [("/flat-odd", "ERR_INVALID_ARG_VALUE"), ("/bad-field", "ERR_INVALID_CHAR")])
def test_a_refused_write_head_leaves_no_field_behind_as_node(ports, path, code):
    data, seen = both(ports, [get(path)], path)
    assert seen == [code]
    assert data == b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"


def test_raw_header_names_keep_the_first_spelling_as_node(ports):
    data, seen = both(ports, [get("/raw-names")], "/raw-names")
    assert seen == [["X-Abc", "set-Cookie"]]
    assert data.startswith(b"HTTP/1.1 200 OK\r\nX-Abc: 1\r\nX-Abc: 2\r\nset-Cookie: a\r\nset-Cookie: b\r\n")


def test_a_bytes_field_value_is_its_text_and_checked_as_node(ports):
    data, seen = both(ports, [get("/bytes-value")], "/bytes-value")
    assert seen == ["ERR_INVALID_CHAR", "ERR_INVALID_CHAR"]
    assert data.startswith(b"HTTP/1.1 200 OK\r\nX-B: abc\r\nX-L: a\r\nX-L: b\r\nDate: <DATE>\r\n")


def test_write_head_takes_any_mapping_as_node_takes_any_object(ports):
    data, _ = both(ports, [get("/mapping")], "/mapping")
    assert data.startswith(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nDate: <DATE>\r\n")


def test_an_application_keep_alive_field_replaces_the_automatic_one_as_node(ports):
    kept_alive = b"GET /keep-alive-field HTTP/1.1\r\nHost: x\r\n\r\n"
    data, _ = both(ports, [kept_alive + get("/report/none")], "/keep-alive-field")
    assert data.startswith(b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=99\r\nDate: <DATE>\r\n"
                           b"Connection: keep-alive\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n")
