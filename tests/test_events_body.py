"""The response body a request listener writes (``write``, ``end``, trailers,
``strict_content_length``), side by side with Node's own http.Server (the machinery is
``test_events_head``'s).

Rules under test (Node v20's):
- ``add_trailers`` replaces the trailers of an earlier call.
- ``write(None)`` raises ``ERR_STREAM_NULL_VALUES`` and fixes no head.
- Once the response is closed (``destroyed``), a ``write`` gets its callback and an
  ``end(data)`` nothing; neither emits ``error``.
- The callbacks of a response waiting its turn (pipelining) come once its own bytes
  are out, after the earlier response's ``finish``.
- ``strict_content_length``: a body that passes the application's Content-Length, or
  ends short of it, raises ``ERR_HTTP_CONTENT_LENGTH_MISMATCH`` before its bytes go.
"""

import logging
import socket
import struct

import pytest

from test_events_head import both, get, node_server, prefork_setup, report

NODE_ROUTES = r"""
  '/node-helpers': (() => {
    global.trailerDeclared = (req, res) => {
      res.setHeader('Trailer', 'X-T'); res.addTrailers({'X-T': '1'});
      try { res.end('hello'); } catch (e) { note(req.url, [e.code, res.headersSent]); res.removeHeader('Trailer'); res.end('hello'); }
    };
  })(),
  '/trailers-replaced': (req, res) => {
    res.addTrailers({'X-T': '1'}); res.addTrailers({'X-U': '2'}); res.write('a'); res.end();
  },
  '/trailers-bytes': (req, res) => { res.addTrailers({'X-T': Buffer.from('v')}); res.write('a'); res.end(); },
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
  '/first': (req, res) => { global.first = res; global.firstDone = false; res.on('finish', () => { global.firstDone = true; }); },
  '/second': (req, res) => {
    res.write('a', () => note(req.url, ['write', global.firstDone]));
    res.writeContinue(() => note(req.url, ['continue', global.firstDone]));
    res.end('b', () => note(req.url, ['end', global.firstDone]));
    setImmediate(() => global.first.end('one'));
  },
  '/trailer-declared': trailerDeclared, '/trailer-declared-head': trailerDeclared, '/trailer-declared-10': trailerDeclared,
  '/write-after-client-left': (req, res) => {
    res.write('a');
    res.on('close', () => note(req.url, ['write', res.write('b', (err) => note(req.url, 'write-cb'))]));
  },
  '/write-head-trailer-retry': (req, res) => {
    try { res.writeHead(200, {'Trailer': 'X-T', 'Content-Length': '5'}); } catch (e) { note(req.url, [e.code, res.headersSent]); }
    res.end('hello');
  },
  '/trailer-bad-status': (req, res) => {
    res.setHeader('Trailer', 'X-T'); res.setHeader('Content-Length', '5'); res.statusCode = 99;
    try { res.end('hello'); } catch (e) { note(req.url, e.code); }
    res.statusCode = 200; res.removeHeader('Trailer'); res.end('hello');
  },
  '/head-made-line-by-line': (req, res) => { res.sendDate = false; res.statusMessage = 'Fine'; res.end('hello'); },
  '/trailer-declared-length': (req, res) => {
    res.setHeader('Trailer', 'X-T'); res.setHeader('Content-Length', '5');
    try { res.end('hello'); } catch (e) { note(req.url, [e.code, res.headersSent]); }
    res.removeHeader('Trailer'); res.end('hello');
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


def trailers_bytes(req, res, note):
    res.add_trailers({"X-T": b"v"})
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


QUEUE = {}


def first(req, res, note):
    QUEUE["first"], QUEUE["done"] = res, False
    res.on("finish", lambda: QUEUE.update(done=True))


def second(req, res, note):
    loop = req.socket.loop
    res.write("a", callback=lambda: note(req.url, ["write", QUEUE["done"]]))
    res.write_continue(lambda: note(req.url, ["continue", QUEUE["done"]]))
    res.end("b", callback=lambda: note(req.url, ["end", QUEUE["done"]]))
    loop.call_soon(loop.call_soon, QUEUE["first"].end, "one")  # after what the calls above scheduled


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


def end_or_mend(req, res, note):
    """``end``; refused, the refusal noted, the Trailer field removed and ``end`` again."""
    try:
        res.end("hello")
    except ValueError as err:
        note(req.url, [err.code, res.headers_sent])
        res.remove_header("Trailer")
        res.end("hello")


def trailer_declared(req, res, note):
    res.set_header("Trailer", "X-T")
    res.add_trailers({"X-T": "1"})
    end_or_mend(req, res, note)


def trailer_declared_length(req, res, note):
    res.set_header("Trailer", "X-T")
    res.set_header("Content-Length", "5")
    end_or_mend(req, res, note)


def write_after_client_left(req, res, note):
    res.write("a")
    res.on("close", lambda: note(req.url, ["write", res.write("b", callback=lambda: note(req.url, "write-cb"))]))


def write_head_trailer_retry(req, res, note):
    try:
        res.write_head(200, {"Trailer": "X-T", "Content-Length": "5"})
    except ValueError as err:
        note(req.url, [err.code, res.headers_sent])
    res.end("hello")


def trailer_bad_status(req, res, note):
    res.set_header("Trailer", "X-T")
    res.set_header("Content-Length", "5")
    res.status_code = 99
    try:
        res.end("hello")
    except ValueError as err:
        note(req.url, err.code)
    res.status_code = 200
    res.remove_header("Trailer")
    res.end("hello")


def head_made_line_by_line(req, res, note):
    res.send_date = False
    res.status_message = "Fine"
    res.end("hello")


ROUTES = {"/write-after-client-left": write_after_client_left, "/write-head-trailer-retry": write_head_trailer_retry, "/trailer-bad-status": trailer_bad_status,
          "/head-made-line-by-line": head_made_line_by_line, "/trailer-declared": trailer_declared, "/trailer-declared-head": trailer_declared,
          "/trailer-declared-10": trailer_declared, "/trailer-declared-length": trailer_declared_length,
          "/trailers-replaced": trailers_replaced, "/trailers-bytes": trailers_bytes, "/write-null": write_null, "/after-close": after_close,
          "/first": first, "/second": second, "/strict-long": strict_long, "/strict-short": strict_short}


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


def test_a_bytes_trailer_value_is_its_text_as_node(ports):
    data, _ = both(ports, [get("/trailers-bytes")], "/trailers-bytes")
    assert data.endswith(b"\r\n\r\n1\r\na\r\n0\r\nX-T: v\r\n\r\n")


def test_write_none_is_refused_and_fixes_no_head_as_node(ports):
    data, seen = both(ports, [get("/write-null")], "/write-null")
    assert seen == ["ERR_STREAM_NULL_VALUES", False]
    assert data.endswith(b"Content-Length: 1\r\n\r\nx")


def test_write_and_end_after_close_emit_no_error_as_node(ports):
    data, seen = both(ports, [get("/after-close")], "/after-close", until="done")
    assert seen == [["open", False], ["closed", True], "write-cb", "done"]
    assert data.endswith(b"Content-Length: 1\r\n\r\na")


def test_write_callbacks_of_a_queued_response_wait_for_its_bytes_as_node(ports):
    pipelined = b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, seen = both(ports, [pipelined], "/second", until=["end", True])
    assert seen == [["write", True], ["continue", True], ["end", True]]
    assert data.endswith(b"\r\n\r\none" + b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n1\r\na\r\nHTTP/1.1 100 Continue\r\n\r\n"
                         b"1\r\nb\r\n0\r\n\r\n")


@pytest.mark.parametrize("path, body", [("/strict-long", b"hi"), ("/strict-short", b"hello")])
def test_strict_content_length_refuses_a_body_of_another_length_as_node(ports, path, body):
    data, seen = both(ports, [get(path)], path)
    assert seen == ["ERR_HTTP_CONTENT_LENGTH_MISMATCH"]
    assert data.endswith(b"Content-Length: %d\r\nDate: <DATE>\r\nConnection: close\r\n\r\n%s" % (len(body), body))


def test_a_late_answer_to_a_client_that_went_is_dropped_without_an_error(serve, caplog):
    """The client sends its request and closes; the handler answers later. The kernel
    refuses the answer's bytes (the peer is gone): the response closes, and ``write``
    and ``end`` return normally, as Node's do for a destroyed response."""
    def setup(server, st_):
        def on_request(req, res):
            res.on("close", lambda: st_.record("close", res.destroyed, res.writable_finished))
            res.on("finish", lambda: st_.record("finish"))
            st_.record("request", res)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    res = st_.wait_for(lambda e: e[0] == "request")[1]
    sock.close()  # the client is gone: bytes sent to it now are answered with a reset

    def answer():
        try:
            res.write("x")  # taken by the kernel; the peer's reset comes back at once (loopback)
            res.end("y")  # refused by the kernel: the connection closes under this call
        except Exception as exc:  # raised into the application
            return ["raised", type(exc).__name__]
        return ["ended", res.writable_ended]
    with caplog.at_level(logging.ERROR, logger="prefork"):
        assert st_.call(answer) == ["ended", True]
        # closed (by the refused send; or, should the reset come later, once it comes)
        assert st_.wait_for(lambda e: e[0] == "close")[1] is True
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_queued_answer_refused_by_the_kernel_closes_without_an_error(serve, caplog):
    """Two pipelined requests; the second is answered first (its bytes wait), the client
    goes, then the first is answered: its bytes are taken, the second's are refused when
    its turn comes. Both responses close and ``end`` returns normally."""
    def setup(server, st_):
        def on_request(req, res):
            res.on("close", lambda: st_.record("close", req.url, res.destroyed))
            st_.record("request", req.url, res)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    first = st_.wait_for(lambda e: e[:2] == ("request", "/1"))[2]
    second = st_.wait_for(lambda e: e[:2] == ("request", "/2"))[2]
    st_.call(second.end, "two")  # queued behind the first
    sock.close()

    def answer():
        try:
            first.end("one")  # taken by the kernel; the reset comes back, the second's send fails
        except Exception as exc:  # raised into the application
            return ["raised", type(exc).__name__]
        return ["ended"]
    with caplog.at_level(logging.ERROR, logger="prefork"):
        assert st_.call(answer) == ["ended"]
        st_.wait_for(lambda e: e == ("close", "/2", True))
        st_.wait_for(lambda e: e == ("close", "/1", True))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_write_callback_after_the_connection_went_is_still_called(serve):
    """A response waiting its turn whose connection goes: a later write is dropped and
    its callback called (Node calls it with ERR_STREAM_DESTROYED)."""
    def setup(server, st_):
        def on_request(req, res):
            res.on("close", lambda: st_.record("close", req.url))
            st_.record("request", req.url, res)
        server.on("request", on_request)
    st_ = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    second = st_.wait_for(lambda e: e[:2] == ("request", "/2"))[2]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset: both responses close unanswered
    st_.wait_for(lambda e: e == ("close", "/2"))
    st_.call(second.write, "late", None, lambda: st_.record("write-cb"))
    st_.wait_for(lambda e: e == ("write-cb",))


def test_a_declared_trailer_makes_the_body_chunked_as_node(ports):
    """A ``Trailer`` field: the body goes chunked though its length is known, so the
    trailers it announces can follow it."""
    data, seen = both(ports, [get("/trailer-declared")], "/trailer-declared")
    assert seen == []
    assert b"Content-Length" not in data
    assert data.endswith(b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")


@pytest.mark.parametrize("path, request_bytes", [
    ("/trailer-declared-head", b"HEAD /trailer-declared-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ("/trailer-declared-10", b"GET /trailer-declared-10 HTTP/1.0\r\n\r\n"),
    ("/trailer-declared-length", get("/trailer-declared-length")),
])
def test_a_declared_trailer_without_a_chunked_body_is_refused_as_node(ports, path, request_bytes):
    """No body (HEAD), a peer that cannot read chunks (HTTP/1.0), or the application's
    own Content-Length: fixing the head raises ERR_HTTP_TRAILER_INVALID and fixes nothing."""
    data, seen = both(ports, [request_bytes], path)
    assert seen == [["ERR_HTTP_TRAILER_INVALID", False]]
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Trailer" not in data


def test_a_head_without_fields_made_line_by_line_is_framed_by_its_length_as_node(ports):
    """No application field, but not the cached head (no Date, a reason of its own): the
    head is made line by line, and the body's length frames it."""
    data, seen = both(ports, [get("/head-made-line-by-line")], "/head-made-line-by-line")
    assert data == b"HTTP/1.1 200 Fine\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"


def test_write_head_refused_for_its_trailer_keeps_none_of_its_fields_as_node(ports):
    """``write_head(200, {Trailer, Content-Length})`` raises; with no field set before,
    its fields are not kept (Node keeps them only in the head it makes), so ``end``
    sends the body with the automatic framing."""
    data, seen = both(ports, [get("/write-head-trailer-retry")], "/write-head-trailer-retry")
    assert seen == [["ERR_HTTP_TRAILER_INVALID", False]]
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Trailer" not in data and data.endswith(b"\r\n\r\nhello")


def test_a_bad_status_is_reported_before_the_trailer_rule_as_node(ports):
    data, seen = both(ports, [get("/trailer-bad-status")], "/trailer-bad-status")
    assert seen == ["ERR_HTTP_INVALID_STATUS_CODE"]
    assert data.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n") and data.endswith(b"\r\n\r\nhello")


def test_a_write_after_the_client_left_says_false_as_node(ports):
    """The client goes while the response streams: ``write`` returns False (so a producer
    that waits for 'drain' only when told stops), its callback still runs, no error."""
    seen = {}
    for name, port in ports.items():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(get("/write-after-client-left").replace(b"Connection: close\r\n", b""))
        assert sock.recv(65536)  # the head and the first chunk
        # a reset, not a FIN (after a FIN prefork finishes the response: node-compat 3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        seen[name] = report(port, "/write-after-client-left", until="write-cb")
    assert seen["prefork"] == seen["node"] == [["write", False], "write-cb"], seen
