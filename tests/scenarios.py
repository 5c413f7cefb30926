"""Raw-byte scenarios from the spec (node-http-spec.md), each with what Node v20 does.

``expect`` is the exact response bytes with the Date value written as ``<DATE>``;
``closed`` whether the server closed the connection within the window; ``events`` the
server events of that connection (name, or (name, code)); None means "not asserted
here" (the differential test still compares those with Node's).
"""

from dataclasses import dataclass, field

H = b"Host: x\r\n"
KA = b"Date: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
CLOSE = b"Date: <DATE>\r\nConnection: close\r\n"
CANNED_400 = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"


def get(path=b"/", extra=b"", method=b"GET", version=b"HTTP/1.1", host=True):
    return method + b" " + path + b" " + version + b"\r\n" + (H if host else b"") + extra + b"\r\n"


def ok(body, extra=b"", keep=True, framing=None):
    if framing is None:
        framing = b"Content-Length: %d\r\n" % len(body)
    return b"HTTP/1.1 200 OK\r\n" + extra + (KA if keep else CLOSE) + framing + b"\r\n" + body


CHUNKED = b"Transfer-Encoding: chunked\r\n"


@dataclass
class Scenario:
    name: str
    steps: list
    expect: bytes = None
    closed: bool = None
    events: list = None
    config: dict = field(default_factory=dict)
    window: float = 0.4
    close_after: tuple = None  # (min, max) seconds from the last send to the server's close
    compare_events: bool = True
    # the requests' events interleave as the bytes happen to arrive (in Node as in
    # prefork): compared as the same events, each request's before its response's
    interleaved: bool = False


def ev(*names):
    return list(names)


S = []


def add(*args, **kwargs):
    S.append(Scenario(*args, **kwargs))


U = lambda *events: {"unlisten": list(events)}  # noqa: E731

# §1 serialization ---------------------------------------------------------------
add("A01 plain GET keep-alive", [get()], ok(b"hello"), False, ev("connection", "request", "res.finish"))
add("A02 write+end chunked", [get(b"/chunked")], ok(b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", framing=CHUNKED), False)
add("A03 end() empty", [get(b"/empty")], ok(b""), False)
add("A04 app Content-Length", [get(b"/cl")],
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n" + KA + b"\r\nhello", False)
add("A05 app Transfer-Encoding", [get(b"/te")],
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + KA + b"\r\n5\r\nhello\r\n0\r\n\r\n", False)
add("A06 HEAD end(hello)", [get(method=b"HEAD")], b"HTTP/1.1 200 OK\r\n" + KA + b"\r\n", False)
add("A07 HEAD write+end", [get(b"/chunked", method=b"HEAD")], b"HTTP/1.1 200 OK\r\n" + KA + b"\r\n", False)
add("A09 204 with body", [get(b"/status/204")], b"HTTP/1.1 204 No Content\r\n" + KA + b"\r\n", False)
add("A10 304 with body", [get(b"/status/304")], b"HTTP/1.1 304 Not Modified\r\n" + KA + b"\r\n", False)
add("A11 unknown status", [get(b"/status/299")],
    b"HTTP/1.1 299 unknown\r\n" + KA + b"Content-Length: 4\r\n\r\nbody", False)
add("A11b status 404 route", [get(b"/nope")],
    b"HTTP/1.1 404 Not Found\r\n" + KA + b"Content-Length: 9\r\n\r\nnot found", False)
add("A13 HTTP/1.0", [b"GET / HTTP/1.0\r\n\r\n"], b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\nhello", True)
add("A14 HTTP/1.0 chunked route", [b"GET /chunked HTTP/1.0\r\n\r\n"], b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\nhello", True)
add("A15 HTTP/1.0 keep-alive no CL", [b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\nhello", True)
add("A16 HTTP/1.0 keep-alive writeHead+end", [b"GET /writehead-end-data HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\nhello", True)
add("A41 HTTP/1.0 keep-alive app CL x2", [b"GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2],
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n" + KA + b"\r\nhello") * 2, False)
add("A30 HTTP/1.0 TE chunked", [b"GET /chunked HTTP/1.0\r\nTE: chunked\r\nConnection: keep-alive\r\n\r\n"],
    ok(b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", framing=CHUNKED), False)
add("A32 HTTP/1.0 handler keep-alive no CL", [b"GET /conn-keepalive HTTP/1.0\r\n\r\n"],
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nDate: <DATE>\r\n\r\nka", True)
add("A53 HTTP/1.0 HEAD", [b"HEAD / HTTP/1.0\r\n\r\n"], b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\n", True)
add("A54 HTTP/1.0 keep-alive 204", [b"GET /status/204 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    b"HTTP/1.1 204 No Content\r\n" + CLOSE + b"\r\n", True)
add("A17 Connection: close", [get(extra=b"Connection: close\r\n")],
    ok(b"hello", keep=False), True)
add("A39 token list with close", [get(extra=b"Connection: keep-alive, close\r\n")], ok(b"hello", keep=False), True)
add("A19 handler Connection: close", [get(b"/conn-close")],
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nDate: <DATE>\r\nContent-Length: 3\r\n\r\nbye", True)
add("A20 sendDate false", [get(b"/nodate")],
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\nx", False)
add("A21 header order", [get(b"/custom-headers")],
    b"HTTP/1.1 200 OK\r\nX-A: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Type: text/plain\r\n"
    + KA + b"Content-Length: 1\r\n\r\nx", False)
add("A22 flushHeaders then end", [get(b"/flush")], ok(b"4\r\nlate\r\n0\r\n\r\n", framing=CHUNKED), False)
add("A31 write('') end()", [get(b"/write-empty-end")], ok(b"0\r\n\r\n", framing=CHUNKED), False)
add("A50 writeHead then end()", [get(b"/writehead-end")], ok(b"0\r\n\r\n", framing=CHUNKED), False)
add("A51 writeHead then end(data)", [get(b"/writehead-end-data")], ok(b"5\r\nhello\r\n0\r\n\r\n", framing=CHUNKED), False)
add("A33 client half-close after request", [get(), ("shutdown",)], ok(b"hello"), True)
add("A26 HTTP/1.1 no Host", [get(host=False)],
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: <DATE>\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    True, ev("connection"))
add("A27 HTTP/1.0 no Host", [b"GET / HTTP/1.0\r\n\r\n"], b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\nhello", True)
add("A43 requireHostHeader false", [get(host=False)], ok(b"hello"), False,
    config={"options": {"requireHostHeader": False}})
add("A44 empty Host accepted", [b"GET / HTTP/1.1\r\nHost:\r\n\r\n"], ok(b"hello"), False)
add("A45 two Host lines", [b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"], ok(b"hello"), False)
add("C30 CRLF before request line", [b"\r\n" + get()], ok(b"hello"), False)
add("C31 obs-text header value", [get(b"/headers", b"X-O: caf\xe9\r\n")], None, False)
add("C32 OWS stripped", [get(b"/headers", b"X-W: \t v \t\r\n")], None, False)
add("A40 PURGE method", [get(method=b"PURGE")], ok(b"hello"), False)
add("A37 absolute-form target", [get(b"http://example.invalid/abs?q=1")], None, False)
add("A38 OPTIONS *", [get(b"*", method=b"OPTIONS")], None, False)
add("C26 HTTP/1.0 chunked body", [b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"],
    b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\ngot:3:abc", True)
add("A29 chunked body, extension, trailer",
    [b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer-X: 1\r\n\r\n"],
    ok(b"got:5:abcde"), False)
add("A47 GET with a body then pipelined", [b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get()],
    ok(b"got:3:abc") + ok(b"hello"), False)
add("headers map join rules",
    [get(b"/headers", b"X-M: 1\r\nx-m: 2\r\nCookie: a=1\r\nCookie: b=2\r\nSet-Cookie: s=1\r\nSet-Cookie: s=2\r\n"
                      b"Content-Type: a\r\nContent-Type: b\r\n")], None, False)

# §2 pipelining -------------------------------------------------------------------------
add("A23 three pipelined", [get() + get(b"/chunked") + get(b"/empty")],
    ok(b"hello") + ok(b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", framing=CHUNKED) + ok(b""), False,
    ev("connection", "request", "request", "request", "res.finish", "res.finish", "res.finish"), window=0.5)
add("A24 slow first of two", [get(b"/delay/200") + get()],
    ok(b"delayed") + ok(b"hello"), False, ev("connection", "request", "request", "res.finish", "res.finish"),
    window=0.8)
add("A49 data after close, sync handler (u)", [get(b"/sync", b"Connection: close\r\n") + get(b"/chunked")],
    ok(b"sync", keep=False), True, config=U("clientError"), compare_events=False)
add("pipelined byte by byte", [bytes([b]) for b in get() + get(b"/chunked")],
    ok(b"hello") + ok(b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", framing=CHUNKED), False, window=0.6, interleaved=True)

# §3.3 / 3.4 expectations -------------------------------------------------------------------
E100 = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
add("B01 Expect 100 (u)", [E100, ("wait", 25), b"abcde"],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"got:5:abcde"), False,
    ev("connection", "request", "res.finish"), config=U("checkContinue"))
add("B02 Expect 100, listened", [E100, ("wait", 25), b"abcde"],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"got:5:abcde"), False, ev("connection", "checkContinue", "res.finish"))
add("B03 checkContinue 417 without 100",
    [b"POST /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"],
    b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n" + CLOSE + b"\r\n", True)
add("B04 100-Continue case", [b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n"],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"hello"), False, config=U("checkContinue"))
add("B05 Expect foo (u)", [get(extra=b"Expect: foo\r\n")],
    b"HTTP/1.1 417 Expectation Failed\r\n" + KA + CHUNKED + b"\r\n0\r\n\r\n", False, ev("connection"),
    config=U("checkExpectation"))
add("B06 Expect foo, listened", [get(extra=b"Expect: foo\r\n")],
    b"HTTP/1.1 417 Expectation Failed\r\nX-Expect-Seen: foo\r\n" + KA + CHUNKED
    + b"\r\n17\r\nunsupported expectation\r\n0\r\n\r\n", False, ev("connection", "checkExpectation"))
add("B07 Expect on HTTP/1.0 (u)", [b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nabcde"],
    b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\ngot:5:abcde", True, config=U("checkContinue"))
add("B09 Expect 100 on GET without body (u)", [get(extra=b"Expect: 100-continue\r\n")],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"hello"), False, config=U("checkContinue"))
add("B10 Expect 100 with body in same packet (u)", [E100 + b"abcde"],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"got:5:abcde"), False, config=U("checkContinue"))
add("B16 Expect 100 then pipelined (u)", [get(extra=b"Expect: 100-continue\r\n") + get(b"/empty")],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"hello") + ok(b""), False, config=U("checkContinue"))
add("B17 empty Expect (u)", [get(extra=b"Expect:\r\n")],
    b"HTTP/1.1 417 Expectation Failed\r\n" + KA + CHUNKED + b"\r\n0\r\n\r\n", False, config=U("checkExpectation"))
add("B18 100-continue, foo (u)", [get(extra=b"Expect: 100-continue, foo\r\n")],
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"hello"), False, config=U("checkContinue"))
add("B19 417 then pipelined (u)", [get(extra=b"Expect: foo\r\n") + get()],
    b"HTTP/1.1 417 Expectation Failed\r\n" + KA + CHUNKED + b"\r\n0\r\n\r\n" + ok(b"hello"), False,
    config=U("checkExpectation"))
add("B20 x100-continuey is not 100-continue (u)", [get(extra=b"Expect: x100-continuey\r\n")],
    b"HTTP/1.1 417 Expectation Failed\r\n" + KA + CHUNKED + b"\r\n0\r\n\r\n", False,
    config=U("checkContinue", "checkExpectation"))
add("B11 writeEarlyHints", [get(b"/early-hints")],
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n" + ok(b"ok"), False)
add("B12 writeEarlyHints array", [get(b"/early-hints-multi")],
    b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script\r\n"
    b"x-hint: yes\r\n\r\n" + ok(b"ok"), False)
add("B13 writeProcessing", [get(b"/processing")], b"HTTP/1.1 102 Processing\r\n\r\n" + ok(b"ok"), False)
add("B14 writeContinue without Expect", [get(b"/write-continue")], b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"ok"), False)
add("B15 early hints to HTTP/1.0", [b"GET /early-hints HTTP/1.0\r\n\r\n"],
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
    b"HTTP/1.1 200 OK\r\n" + CLOSE + b"\r\nok", True)

# §3.5 client errors -----------------------------------------------------------------------
def bad(name, data, code, status=400, **kw):
    canned = b"HTTP/1.1 %d %s\r\nConnection: close\r\n\r\n" % (status, {
        400: b"Bad Request", 431: b"Request Header Fields Too Large", 413: b"Payload Too Large"}[status])
    add(name + " (u)", [data], kw.pop("expect", canned), True, kw.pop("events", None), config=U("clientError"), **kw)
    listened = b"HTTP/1.1 %d %s\r\nX-Client-Error: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % (
        status, {400: b"Bad Request", 431: b"Request Header Fields Too Large", 413: b"Payload Too Large"}[status],
        code.encode())
    add(name + " (l)", [data], None, True, None)
    S[-1].listened_expect = listened
    S[-1].code = code
    S[-2].code = code


bad("C01 garbage", b"GARBAGE\r\n\r\n", "HPE_INVALID_METHOD")
bad("C02 lower-case method", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", "HPE_INVALID_METHOD")
bad("C42 no space after method", b"GET\r\n\r\n", "HPE_INVALID_METHOD")
bad("C05 HTTP/1.2", get(version=b"HTTP/1.2"), "HPE_INVALID_VERSION")
bad("C06 extra after version", b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", "HPE_INVALID_VERSION")
bad("C14 bare LF", b"GET / HTTP/1.1\nHost: x\n\n", "HPE_INVALID_VERSION")
bad("C07 space in target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "HPE_INVALID_CONSTANT")
bad("C37 DEL in target", b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", "HPE_INVALID_URL")
bad("C08 space in header name", get(extra=b"Bad Header: v\r\n"), "HPE_INVALID_HEADER_TOKEN")
bad("C10 no colon", get(extra=b"NoColon\r\n"), "HPE_INVALID_HEADER_TOKEN")
bad("C11 ctl char in value", get(extra=b"X-A: a\x01b\r\n"), "HPE_INVALID_HEADER_TOKEN")
bad("C13 obs-fold", get(extra=b"X-A: a\r\n b\r\n"), "HPE_INVALID_HEADER_TOKEN")
bad("C15 CR without LF", b"GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", "HPE_LF_EXPECTED")
bad("C16 CL and TE", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "HPE_INVALID_TRANSFER_ENCODING")
bad("C18 duplicate CL", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde",
    "HPE_UNEXPECTED_CONTENT_LENGTH")
bad("C19 CL abc", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH")
bad("C21 CL overflow", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "HPE_INVALID_CONTENT_LENGTH")
bad("C25 TE chunked, gzip", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "HPE_INVALID_TRANSFER_ENCODING")
bad("C24 TE gzip", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HPE_INVALID_TRANSFER_ENCODING")
bad("C22 bad chunk size", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "HPE_INVALID_CHUNK_SIZE")
bad("C23 chunk data too long", b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
    "HPE_STRICT")
bad("C27 header overflow", get(extra=b"X-Pad: " + b"p" * 16400 + b"\r\n"), "HPE_HEADER_OVERFLOW", 431)
bad("C29 chunk extensions overflow",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;" + b"e" * 20000 + b"\r\nabc\r\n0\r\n\r\n",
    "HPE_CHUNK_EXTENSIONS_OVERFLOW", 413)
add("C50 FIN mid-head (u)", [b"GET / HTTP/1.1\r\nHost: x\r\n", ("shutdown",)], CANNED_400, True,
    None, config=U("clientError"))
add("C51 FIN mid-body (u)", [b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", ("shutdown",)],
    CANNED_400, True, config=U("clientError"))
add("C56 400 after a finished response (u)", [get(), ("wait", 120), b"GARBAGE\r\n\r\n"],
    ok(b"hello") + CANNED_400, True, config=U("clientError"))
add("C54 error during a partly sent response (u)", [get(b"/slowbody/300"), ("wait", 100), b"GARBAGE\r\n\r\n"],
    None, True, config=U("clientError"), window=0.8)
add("C33 error right after a sync response (u)", [get(b"/sync") + b"GARBAGE\r\n\r\n"],
    ok(b"sync"), True, config=U("clientError"))

# §3.6 / 3.7 connect and upgrade ---------------------------------------------------------------
add("G01 CONNECT listened", [b"CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\nHELLO",
                             ("wait", 44), b"more", ("wait", 48), ("shutdown",)],
    b"HTTP/1.1 200 Connection Established\r\n\r\nHELLOmore", True, ev("connection", "connect"))
add("G02 CONNECT unlistened", [b"CONNECT example.invalid:443 HTTP/1.1\r\nHost: x\r\n\r\n"], b"", True,
    ev("connection"), config=U("connect"))
add("G11 CONNECT unlistened HTTP/1.0", [b"CONNECT example.invalid:443 HTTP/1.0\r\n\r\n"], b"", True,
    config=U("connect"))
add("G16 CONNECT body goes to head", [b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", ("wait", 42),
                                      ("shutdown",)],
    b"HTTP/1.1 200 Connection Established\r\n\r\nabc", True)
add("G03 upgrade listened", [b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nFRAME",
                             ("wait", 80), ("shutdown",)],
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nFRAME", True,
    ev("connection", "upgrade"))
add("G10 upgrade with CL body in head", [b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n"
                                          b"Content-Length: 3\r\n\r\nabcREST", ("wait", 74), ("shutdown",)],
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nabcREST", True)
add("G05 Upgrade without Connection: upgrade", [get(extra=b"Upgrade: websocket\r\n")], ok(b"hello"), False)
add("G04 upgrade unlistened is a request", [get(extra=b"Upgrade: websocket\r\nConnection: Upgrade\r\n")],
    ok(b"hello"), False, ev("connection", "request", "res.finish"), config=U("upgrade"))
add("G07 upgrade on HTTP/1.0", [b"GET /ws HTTP/1.0\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", ("wait", 66),
                                ("shutdown",)],
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", True)
add("G08 CONNECT after a keep-alive exchange", [get(), ("wait", 120), b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n",
                                                ("wait", 159), ("shutdown",)],
    ok(b"hello") + b"HTTP/1.1 200 Connection Established\r\n\r\n", True)
add("G15 unlistened upgrade, next request in a later read",
    [get(extra=b"Upgrade: websocket\r\nConnection: Upgrade\r\n"), ("wait", 120), get()],
    ok(b"hello") * 2, False, config=U("upgrade"))

# §3.8 / 4.1 dropRequest ----------------------------------------------------------------------------
CAP2 = {"knobs": {"maxRequestsPerSocket": 2}}
KA2 = b"Date: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=2\r\n"
R503 = b"HTTP/1.1 503 Service Unavailable\r\n" + CLOSE + CHUNKED + b"\r\n0\r\n\r\n"
add("D01 cap 2, three requests", [get() + get() + get()],
    b"HTTP/1.1 200 OK\r\n" + KA2 + b"Content-Length: 5\r\n\r\nhello"
    + b"HTTP/1.1 200 OK\r\n" + CLOSE + b"Content-Length: 5\r\n\r\nhello" + R503, False,
    ev("connection", "request", "request", "dropRequest", "res.finish", "res.finish"), config=CAP2)
add("D03 cap 2, dropRequest unlistened", [get() + get() + get()],
    b"HTTP/1.1 200 OK\r\n" + KA2 + b"Content-Length: 5\r\n\r\nhello"
    + b"HTTP/1.1 200 OK\r\n" + CLOSE + b"Content-Length: 5\r\n\r\nhello" + R503, False,
    config={"knobs": {"maxRequestsPerSocket": 2}, "unlisten": ["dropRequest"]})
add("D04 cap 1", [get() + get()],
    b"HTTP/1.1 200 OK\r\n" + CLOSE + b"Content-Length: 5\r\n\r\nhello" + R503, False,
    config={"knobs": {"maxRequestsPerSocket": 1}})
add("D05 HTTP/1.0 keep-alive never dropped", [b"GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 3],
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n" + KA2 + b"\r\nhello") * 3, False, config=CAP2)
add("D07 requests after the cap keep getting 503", [get() + get() + get() + get()], None, False, config=CAP2)
add("D09 client close after the cap", [get() + get() + get(extra=b"Connection: close\r\n")], None, True, config=CAP2)
# Node emits the last dropRequest after the earlier responses finish (it resumes parsing
# later); prefork parses the whole read at once. Bytes and close are compared.
add("D10 dropped POST body consumed",
    [get() + get() + b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get()], None, False,
    config=CAP2, compare_events=False)
add("D11 cap checked before Expect", [get() + get() + get(extra=b"Expect: 100-continue\r\n")], None, False,
    config={"knobs": {"maxRequestsPerSocket": 2}, "unlisten": ["checkContinue"]})

# §4.2 keep-alive timing -------------------------------------------------------------------------------
add("E02 keepAliveTimeout 1500: header and close", [get()],
    b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=1\r\nContent-Length: 5\r\n\r\nhello",
    True, config={"knobs": {"keepAliveTimeout": 1500}}, window=3.5, close_after=(2.3, 2.8))
add("E03 keepAliveTimeout 500", [get()],
    b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=0\r\nContent-Length: 5\r\n\r\nhello",
    True, ev("connection", "request", "res.finish", "timeout"),
    config={"knobs": {"keepAliveTimeout": 500}}, window=2.5, close_after=(1.3, 1.8))
add("E04 keepAliveTimeout 0", [get()],
    b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", False,
    config={"knobs": {"keepAliveTimeout": 0}}, window=1.2)
add("E05 timeout listener no-op keeps idle socket", [get()], None, False,
    config={"knobs": {"keepAliveTimeout": 300}, "timeoutMode": "noop"}, window=1.8)
add("E01u keep-alive timeout unlistened", [get()], None, True,
    ev("connection", "request", "res.finish"),
    config={"knobs": {"keepAliveTimeout": 300}, "unlisten": ["timeout"]}, window=2.5, close_after=(1.1, 1.6))
add("E19 timeout 1000 + keepAlive 1500", [get()], None, True,
    config={"knobs": {"timeout": 1000, "keepAliveTimeout": 1500}}, window=3.5, close_after=(2.3, 2.8))
add("E20 cap + keep-alive close", [get() + get() + get()], None, True,
    config={"knobs": {"maxRequestsPerSocket": 2, "keepAliveTimeout": 500}}, window=2.5, close_after=(1.3, 1.8))

# §4.3 / 4.4 timeouts -------------------------------------------------------------------------------------
T = {"options": {"headersTimeout": 800, "requestTimeout": 1600, "connectionsCheckingInterval": 100}}
R408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
add("E12 silent connection 408 (u)", [], R408, True, None,
    config=dict(T, unlisten=["clientError"]), window=2.0, close_after=(0.75, 1.3))
add("E10 slowloris 408 (u)", [b"GET / HTTP/1.1\r\n", ("pause", 0.2), b"A: 1\r\n", ("pause", 0.2), b"B: 1\r\n",
                              ("pause", 0.2), b"C: 1\r\n"], R408, True,
    config=dict(T, unlisten=["clientError"]), window=2.0)
add("E13 incomplete body 408 (u)", [b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"], R408, True,
    config=dict(T, unlisten=["clientError"]), window=2.5, close_after=(1.5, 2.1))
add("E14 handler never answers: no timeout", [get(b"/never")], b"", False, config=T, window=2.0)
add("E15 idle keep-alive not subject to headersTimeout", [get()], ok(b"hello"), False, config=T, window=1.3)
add("E13l timeout listened", [b"GET / HTTP/1.1\r\n"],
    b"HTTP/1.1 408 Request Timeout\r\nX-Client-Error: ERR_HTTP_REQUEST_TIMEOUT\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n", True, config=T, window=2.0)
add("E16 server.timeout silent close", [], b"", True, ev("connection"),
    config={"knobs": {"timeout": 500}, "unlisten": ["timeout"]}, window=1.5, close_after=(0.4, 0.8))
add("E18 server.timeout, stalled request (l)", [b"GET / HTTP/1.1\r\n"], b"", True,
    ev("connection", "timeout"), config={"knobs": {"timeout": 500}}, window=1.5)
add("E17 timeout noop keeps stalled request", [b"GET / HTTP/1.1\r\n"], b"", False,
    config={"knobs": {"timeout": 300}, "timeoutMode": "noop"}, window=1.0)
add("E25 timeout restored for next request", [get(), ("pause", 0.3), get(b"/never")], None, True,
    config={"knobs": {"timeout": 600, "keepAliveTimeout": 3000}}, window=2.0, close_after=(0.5, 0.9))

# §4.5 / 4.6 header limits ----------------------------------------------------------------------------------
add("D20 header size 16383 counted accepted", [get(extra=b"X-Pad: " + b"p" * 16372 + b"\r\n")], ok(b"hello"), False)
add("D20b header size 16384 counted rejected (u)", [get(extra=b"X-Pad: " + b"p" * 16373 + b"\r\n")],
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n", True, config=U("clientError"))
add("D25 maxHeaderSize 100: 99 accepted", [b"GET /" + b"u" * 93 + b" HTTP/1.1\r\nHost: x\r\n\r\n"], None, False,
    config={"options": {"maxHeaderSize": 100}})
add("D25b maxHeaderSize 100: 100 rejected", [b"GET /" + b"u" * 94 + b" HTTP/1.1\r\nHost: x\r\n\r\n"], None, True,
    config={"options": {"maxHeaderSize": 100}, "unlisten": ["clientError"]})
add("D25c OWS does not count", [b"GET / HTTP/1.1\r\nHost: x\r\nX-A:" + b" " * 20 + b"v" * 80 + b"\r\n\r\n"], None, False,
    config={"options": {"maxHeaderSize": 100}})
add("D23 body not limited", [b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b"b" * 200], None, False,
    config={"options": {"maxHeaderSize": 100}})
add("D30 maxHeadersCount 3", [get(b"/headers", b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(5)))], None, False,
    config={"knobs": {"maxHeadersCount": 3}})
add("D35 maxHeadersCount 3 with 40 lines", [get(b"/headers", b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(39)))],
    None, False, config={"knobs": {"maxHeadersCount": 3}})
add("D33 maxHeadersCount cuts Host", [b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nHost: x\r\n\r\n"], None, True,
    config={"knobs": {"maxHeadersCount": 2}})
add("D34 default count 1001 lines", [get(b"/headers", b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(1000)))],
    None, False, window=0.8)
add("D34b default count 1100 lines", [get(b"/headers", b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(1099)))],
    None, False, window=0.8)
add("D32 maxHeadersCount 0 unlimited", [get(b"/headers", b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(5)))],
    None, False, config={"knobs": {"maxHeadersCount": 0}})

SCENARIOS = S
