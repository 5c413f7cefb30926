"""A sweep of the response API against Node's own http.Server: each route makes a few
calls on ``ServerResponse`` (headers, ``write_head`` forms, writes, interim responses,
framing fields), is requested as GET kept alive, as HEAD and as HTTP/1.0, each followed
by a request that closes, and both servers must put the same bytes on the wire and note
the same errors (the machinery is ``test_events_head``'s).

What the sweep holds (Node v20's rules): header names and values checked
(``ERR_INVALID_HTTP_TOKEN``, ``ERR_INVALID_CHAR``, ``ERR_HTTP_INVALID_HEADER_VALUE``),
``ERR_HTTP_HEADERS_SENT`` once the head is fixed, ``ERR_HTTP_INVALID_STATUS_CODE``,
numbers and lists as values, removal of the automatic fields, the framing chosen for
each way of writing, 1xx/204/304/HEAD without a body, ``send_date``, trailers, and
the interim responses. Not swept: a header value beyond ASCII, which Node writes as
UTF-8 when the first body chunk is a string and as latin-1 otherwise (prefork: always
latin-1, the bytes a value's characters stand for).
"""

import pytest

from test_events_head import both, node_server, prefork_setup

# name: (Node listener body, prefork listener); ``tryit(name, f)`` notes f's error code
CASES = {
    "cookie-list": ("res.setHeader('Cookie', ['a=1', 'b=2']); res.setHeader('X-L', ['1', '2']);"
                    "res.writeHead(200, {'cookie': ['c=3', 'd=4', 5]}); res.end('x');",
                    lambda req, res, note: (res.set_header("Cookie", ["a=1", "b=2"]), res.set_header("X-L", ["1", "2"]),
                                            res.write_head(200, {"cookie": ["c=3", "d=4", 5]}), res.end("x"))),
    "cookie-one": ("res.setHeader('COOKIE', ['a=1']); res.setHeader('Cookies', ['x', 'y']); res.end('x');",
                   lambda req, res, note: (res.set_header("COOKIE", ["a=1"]), res.set_header("Cookies", ["x", "y"]),
                                           res.end("x"))),
    "num": ("res.setHeader('X-Num', 5); note(req.url, res.getHeader('x-num')); res.end('x');",
            lambda req, res, note: (res.set_header("X-Num", 5), note(req.url, res.get_header("x-num")),
                                    res.end("x"))),
    "empty-list": ("res.setHeader('X-E', []); res.setHeader('X-F', ''); res.end('x');",
                   lambda req, res, note: (res.set_header("X-E", []), res.set_header("X-F", ""), res.end("x"))),
    "bad-fields": ("tryit('a', () => res.setHeader('', 'v')); tryit('b', () => res.setHeader('a b', 'v'));"
                   "tryit('c', () => res.setHeader('X', undefined)); tryit('d', () => res.setHeader('X', 'a\\r\\nb'));"
                   "tryit('e', () => res.setHeader('X', ['ok', 'a\\nb'])); tryit('f', () => res.setHeader('X', 'a\\x00b'));"
                   "tryit('g', () => res.setHeader('X', '\\u20ac'));"
                   "note(req.url, res.getHeaderNames()); res.end('x');",
                   lambda req, res, note: (
                       tryit(note, req, "a", lambda: res.set_header("", "v")),
                       tryit(note, req, "b", lambda: res.set_header("a b", "v")),
                       tryit(note, req, "c", lambda: res.set_header("X", None)),
                       tryit(note, req, "d", lambda: res.set_header("X", "a\r\nb")),
                       tryit(note, req, "e", lambda: res.set_header("X", ["ok", "a\nb"])),
                       tryit(note, req, "f", lambda: res.set_header("X", "a\x00b")),
                       tryit(note, req, "g", lambda: res.set_header("X", "\u20ac")),
                       note(req.url, res.get_header_names()), res.end("x"))),
    "headers-api": ("res.setHeader('X-A', '1'); res.setHeader('Set-Cookie', ['a', 'b']);"
                    "note(req.url, res.getHeaders()); note(req.url, [res.hasHeader('x-a'), res.hasHeader('nope')]);"
                    "res.removeHeader('x-a'); note(req.url, res.getHeaderNames()); res.end('x');",
                    lambda req, res, note: (
                        res.set_header("X-A", "1"), res.set_header("Set-Cookie", ["a", "b"]),
                        note(req.url, res.get_headers()),
                        note(req.url, [res.has_header("x-a"), res.has_header("nope")]),
                        res.remove_header("x-a"), note(req.url, res.get_header_names()), res.end("x"))),
    "after-sent": ("res.write('a'); tryit('set', () => res.setHeader('X', '1')); tryit('rm', () => res.removeHeader('X'));"
                   "tryit('wh', () => res.writeHead(200)); tryit('app', () => res.appendHeader('X', '1')); res.end();",
                   lambda req, res, note: (
                       res.write("a"), tryit(note, req, "set", lambda: res.set_header("X", "1")),
                       tryit(note, req, "rm", lambda: res.remove_header("X")),
                       tryit(note, req, "wh", lambda: res.write_head(200)),
                       tryit(note, req, "app", lambda: res.append_header("X", "1")), res.end())),
    "remove-automatic": ("res.removeHeader('Date'); res.removeHeader('Content-Length'); res.removeHeader('Connection');"
                         "note(req.url, res.sendDate); res.end('hello');",
                         lambda req, res, note: (
                             res.remove_header("Date"), res.remove_header("Content-Length"),
                             res.remove_header("Connection"), note(req.url, res.send_date), res.end("hello"))),
    "remove-te": ("res.removeHeader('Transfer-Encoding'); res.write('a'); res.end('b');",
                  lambda req, res, note: (res.remove_header("Transfer-Encoding"), res.write("a"), res.end("b"))),
    "write-head-forms": ("res.writeHead(299, 'Fine', {'X-A': '1', 'X-B': ['2', '3']}); res.end('x');",
                         lambda req, res, note: (res.write_head(299, "Fine", {"X-A": "1", "X-B": ["2", "3"]}),
                                                 res.end("x"))),
    "write-head-pairs": ("res.writeHead(200, [['X-A', '1'], ['X-A', '2']]); res.end('x');",
                         lambda req, res, note: (res.write_head(200, [["X-A", "1"], ["X-A", "2"]]), res.end("x"))),
    "write-head-merge": ("res.setHeader('X-A', 'old'); res.setHeader('X-K', 'k'); res.writeHead(200, {'x-a': 'new'});"
                         "res.end('x');",
                         lambda req, res, note: (res.set_header("X-A", "old"), res.set_header("X-K", "k"),
                                                 res.write_head(200, {"x-a": "new"}), res.end("x"))),
    "write-head-twice": ("res.writeHead(200); tryit('again', () => res.writeHead(201)); res.end('x');",
                         lambda req, res, note: (res.write_head(200),
                                                 tryit(note, req, "again", lambda: res.write_head(201)),
                                                 res.end("x"))),
    "bad-status": ("tryit('99', () => res.writeHead(99)); tryit('1000', () => res.writeHead(1000));"
                   "note(req.url, res.headersSent); res.writeHead(201.7); res.end('x');",
                   lambda req, res, note: (tryit(note, req, "99", lambda: res.write_head(99)),
                                           tryit(note, req, "1000", lambda: res.write_head(1000)),
                                           note(req.url, res.headers_sent), res.write_head(201.7), res.end("x"))),
    "bad-status-attribute": ("res.statusCode = 42; tryit('end', () => res.end('x')); note(req.url, res.headersSent);"
                             "res.statusCode = 200; res.end('y');",
                             lambda req, res, note: (
                                 setattr(res, "status_code", 42), tryit(note, req, "end", lambda: res.end("x")),
                                 note(req.url, res.headers_sent), setattr(res, "status_code", 200), res.end("y"))),
    "writes": ("res.write('a'); res.write(Buffer.from('b')); res.write(''); res.end('c');",
               lambda req, res, note: (res.write("a"), res.write(b"b"), res.write(""), res.end("c"))),
    "encodings": ("res.write('68656c6c6f', 'hex'); res.write('aGk=', 'base64'); res.end('\\u00e9', 'latin1');",
                  lambda req, res, note: (res.write("68656c6c6f", "hex"), res.write("aGk=", "base64"),
                                          res.end("\u00e9", "latin1"))),
    "write-number": ("tryit('w', () => res.write(5)); tryit('e', () => res.end(5)); res.end('x');",
                     lambda req, res, note: (tryit(note, req, "w", lambda: res.write(5)),
                                             tryit(note, req, "e", lambda: res.end(5)), res.end("x"))),
    "end-empty": ("res.end('');", lambda req, res, note: res.end("")),
    "flush-headers": ("res.flushHeaders(); note(req.url, res.headersSent); res.flushHeaders(); res.end('late');",
                      lambda req, res, note: (res.flush_headers(), note(req.url, res.headers_sent),
                                              res.flush_headers(), res.end("late"))),
    "trailers": ("res.addTrailers({'X-T': '1'}); res.write('a'); res.end('b');",
                 lambda req, res, note: (res.add_trailers({"X-T": "1"}), res.write("a"), res.end("b"))),
    "trailers-length": ("res.addTrailers({'X-T': '1'}); res.end('ab');",
                        lambda req, res, note: (res.add_trailers({"X-T": "1"}), res.end("ab"))),
    "bad-trailers": ("tryit('a', () => res.addTrailers({'Bad Name': '1'}));"
                     "tryit('b', () => res.addTrailers({'X': 'a\\r\\nb'})); res.end('x');",
                     lambda req, res, note: (tryit(note, req, "a", lambda: res.add_trailers({"Bad Name": "1"})),
                                             tryit(note, req, "b", lambda: res.add_trailers({"X": "a\r\nb"})),
                                             res.end("x"))),
    "interim": ("res.writeContinue(); res.writeProcessing();"
                "res.writeEarlyHints({link: ['</a>; rel=preload', '</b>; rel=preload'], 'x-n': 5}); res.end('ok');",
                lambda req, res, note: (res.write_continue(), res.write_processing(),
                                        res.write_early_hints({"link": ["</a>; rel=preload", "</b>; rel=preload"],
                                                               "x-n": 5}), res.end("ok"))),
    "length-short": ("res.setHeader('Content-Length', '5'); res.end('hi');",
                     lambda req, res, note: (res.set_header("Content-Length", "5"), res.end("hi"))),
    "status-204": ("res.statusCode = 204; res.setHeader('Content-Length', '4'); note(req.url, res.write('body'));"
                   "res.end('body');",
                   lambda req, res, note: (setattr(res, "status_code", 204), res.set_header("Content-Length", "4"),
                                           note(req.url, res.write("body")), res.end("body"))),
    "status-304-chunked": ("res.writeHead(304, {'Transfer-Encoding': 'chunked'}); res.end('body');",
                           lambda req, res, note: (res.write_head(304, {"Transfer-Encoding": "chunked"}),
                                                   res.end("body"))),
    "status-1xx": ("res.writeHead(150); res.end('body');",
                   lambda req, res, note: (res.write_head(150), res.end("body"))),
    "no-date": ("res.sendDate = false; res.write('a'); res.end();",
                lambda req, res, note: (setattr(res, "send_date", False), res.write("a"), res.end())),
    "own-date": ("res.setHeader('Date', 'yesterday'); res.end('x');",
                 lambda req, res, note: (res.set_header("Date", "yesterday"), res.end("x"))),
    "connection-fields": ("res.setHeader('Connection', 'keep-alive'); res.end('x');",
                          lambda req, res, note: (res.set_header("Connection", "keep-alive"), res.end("x"))),
    "keep-alive-off": ("res.shouldKeepAlive = false; res.end('x');",
                       lambda req, res, note: (setattr(res, "should_keep_alive", False), res.end("x"))),
    "te-identity": ("res.setHeader('Transfer-Encoding', 'identity'); res.write('a'); res.end('b');",
                    lambda req, res, note: (res.set_header("Transfer-Encoding", "identity"), res.write("a"),
                                            res.end("b"))),
    "te-chunked": ("res.setHeader('Content-Length', '2'); res.writeHead(200, {'Transfer-Encoding': 'chunked'});"
                   "res.end('ab');",
                   lambda req, res, note: (res.set_header("Content-Length", "2"),
                                           res.write_head(200, {"Transfer-Encoding": "chunked"}), res.end("ab"))),
    "list-values": ("res.setHeader('X-N', [1, 2]); res.setHeader('X-Z', 0); res.setHeader('Date', ['a', 'b']);"
                    "res.appendHeader('x-n', ['3']); res.end('x');",
                    lambda req, res, note: (res.set_header("X-N", [1, 2]), res.set_header("X-Z", 0),
                                            res.set_header("Date", ["a", "b"]), res.append_header("x-n", ["3"]),
                                            res.end("x"))),
    "bytes-like": ("res.write(new Uint8Array([104, 105])); res.end(Buffer.from('!'));",
                   lambda req, res, note: (res.write(memoryview(b"hi")), res.end(bytearray(b"!")))),
}


def tryit(note, req, name, call):
    try:
        call()
    except Exception as err:  # the code is what is compared
        note(req.url, [name, getattr(err, "code", type(err).__name__)])


NODE_ROUTES = "".join(
    f"  '/{name}': (req, res) => {{ const tryit = (n, f) => {{ try {{ f(); }} catch (e) {{ note(req.url, [n, e.code]); }} }};"
    f" {body} }},\n" for name, (body, _) in CASES.items())

ROUTES = {f"/{name}": listener for name, (_, listener) in CASES.items()}


@pytest.fixture(scope="module")
def node_port():
    with node_server(NODE_ROUTES) as port:
        yield port


@pytest.fixture
def ports(serve, node_port):
    return {"node": node_port, "prefork": serve(prefork_setup(ROUTES)).port}


REQUESTS = {
    "get": b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
    "head": b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n",
    "http10": b"GET %s HTTP/1.0\r\n\r\n",
}
CLOSING = b"GET /report/none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("name", list(CASES))
def test_the_response_api_puts_nodes_bytes_on_the_wire(ports, name):
    for kind, request in REQUESTS.items():
        path = f"/{name}"
        data, _ = both(ports, [request % path.encode() + (CLOSING if kind != "http10" else b"")], path)
        assert data.startswith(b"HTTP/1.1 "), (kind, data)
