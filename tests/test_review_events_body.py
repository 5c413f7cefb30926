"""The response body a request listener writes (``write``, ``end``, trailers,
``strict_content_length``), side by side with Node's own http.Server (the machinery is
``test_review_events_head``'s).

Rules under test (Node v20's):
- ``add_trailers`` replaces the trailers of an earlier call.
- ``write(None)`` raises ``ERR_STREAM_NULL_VALUES`` and fixes no head.
- Once the response is closed (``destroyed``), a ``write`` gets its callback and an
  ``end(data)`` nothing; neither emits ``error``.
- ``strict_content_length``: a body that passes the application's Content-Length, or
  ends short of it, raises ``ERR_HTTP_CONTENT_LENGTH_MISMATCH`` before its bytes go.
"""

import pytest

from test_review_events_head import both, get, node_server, prefork_setup

NODE_ROUTES = r"""
  '/trailers-replaced': (req, res) => {
    res.addTrailers({'X-T': '1'}); res.addTrailers({'X-U': '2'}); res.write('a'); res.end();
  },
  '/write-null': (req, res) => {
    try { res.write(null); } catch (e) { note(req.url, e.code); }
    note(req.url, res.headersSent); res.end('x');
  },
  '/after-close': (req, res) => {
    note(req.url, ['open', res.destroyed]);
    res.on('error', (e) => note(req.url, 'error ' + e.code));
    res.on('close', () => {
      note(req.url, ['closed', res.destroyed]);
      res.write('b', () => note(req.url, 'write-cb'));
      res.end('c', () => note(req.url, 'end-cb'));
      setImmediate(() => note(req.url, 'done'));
    });
    res.end('a');
  },
  '/strict-long': (req, res) => {
    res.strictContentLength = true;
    res.writeHead(200, {'Content-Length': '2'});
    try { res.write('hello'); } catch (e) { note(req.url, e.code); }
    res.end('hi');
  },
  '/strict-short': (req, res) => {
    res.strictContentLength = true;
    res.writeHead(200, {'Content-Length': '5'});
    try { res.end('hi'); } catch (e) { note(req.url, e.code); }
    res.end('hello');
  },
"""


def trailers_replaced(req, res, note):
    res.add_trailers({"X-T": "1"})
    res.add_trailers({"X-U": "2"})
    res.write("a")
    res.end()


def write_null(req, res, note):
    try:
        res.write(None)
    except TypeError as err:
        note(req.url, err.code)
    note(req.url, res.headers_sent)
    res.end("x")


def after_close(req, res, note):
    loop = req.socket.loop
    note(req.url, ["open", res.destroyed])
    res.on("error", lambda err: note(req.url, "error " + err.code))

    def on_close():
        note(req.url, ["closed", res.destroyed])
        res.write("b", callback=lambda: note(req.url, "write-cb"))
        res.end("c", callback=lambda: note(req.url, "end-cb"))
        loop.call_soon(lambda: loop.call_soon(note, req.url, "done"))  # after what those scheduled
    res.on("close", on_close)
    res.end("a")


def strict_long(req, res, note):
    res.strict_content_length = True
    res.write_head(200, {"Content-Length": "2"})
    try:
        res.write("hello")
    except ValueError as err:
        note(req.url, err.code)
    res.end("hi")


def strict_short(req, res, note):
    res.strict_content_length = True
    res.write_head(200, {"Content-Length": "5"})
    try:
        res.end("hi")
    except ValueError as err:
        note(req.url, err.code)
    res.end("hello")


ROUTES = {"/trailers-replaced": trailers_replaced, "/write-null": write_null, "/after-close": after_close,
          "/strict-long": strict_long, "/strict-short": strict_short}


@pytest.fixture(scope="module")
def node_port():
    with node_server(NODE_ROUTES) as port:
        yield port


@pytest.fixture
def ports(serve, node_port):
    return {"node": node_port, "prefork": serve(prefork_setup(ROUTES)).port}


def test_add_trailers_replaces_the_earlier_ones_as_node(ports):
    data, _ = both(ports, [get("/trailers-replaced")], "/trailers-replaced")
    assert data.endswith(b"\r\n\r\n1\r\na\r\n0\r\nX-U: 2\r\n\r\n")


def test_write_none_is_refused_and_fixes_no_head_as_node(ports):
    data, seen = both(ports, [get("/write-null")], "/write-null")
    assert seen == ["ERR_STREAM_NULL_VALUES", False]
    assert data.endswith(b"Content-Length: 1\r\n\r\nx")


def test_write_and_end_after_close_emit_no_error_as_node(ports):
    data, seen = both(ports, [get("/after-close")], "/after-close", until="done")
    assert seen == [["open", False], ["closed", True], "write-cb", "done"]
    assert data.endswith(b"Content-Length: 1\r\n\r\na")


@pytest.mark.parametrize("path, body", [("/strict-long", b"hi"), ("/strict-short", b"hello")])
def test_strict_content_length_refuses_a_body_of_another_length_as_node(ports, path, body):
    data, seen = both(ports, [get(path)], path)
    assert seen == ["ERR_HTTP_CONTENT_LENGTH_MISMATCH"]
    assert data.endswith(b"Content-Length: %d\r\nDate: <DATE>\r\nConnection: close\r\n\r\n%s" % (len(body), body))
