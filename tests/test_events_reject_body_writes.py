"""``reject_non_standard_body_writes`` (Node's ``rejectNonStandardBodyWrites`` server
option, Node 20): a body chunk written to a response that has none (a HEAD answer, 1xx,
204, 304) raises ERR_HTTP_BODY_NOT_ALLOWED once its head is fixed; nothing is sent by it,
and a later ``end()`` without a chunk sends the head. Off (the default) the chunk is
dropped silently, as Node's. The server used to refuse the option as unknown.

The same program on Node v20.20 (what it prints and the bytes its client reads are
what the first test asserts):

    const http = require('http'), net = require('net');
    const server = http.createServer({rejectNonStandardBodyWrites: true}, (req, res) => {
      res.statusCode = Number(req.headers['x-st'] || 200);
      const tries = (...fs) => fs.map((f) => { try { f(); return 'ok'; } catch (e) { return e.code; } });
      if (req.url === '/write') console.log(req.method, req.url, res.statusCode, tries(() => res.write('abc'), () => res.write('')), res.headersSent);
      else if (req.url === '/end') console.log(req.method, req.url, res.statusCode, tries(() => res.end('abc'), () => res.end(Buffer.alloc(0))), res.headersSent);
      else if (req.url === '/empty') console.log(req.method, req.url, res.statusCode, tries(() => res.end('')), res.headersSent);
      res.end();
    });
    server.listen(0, () => {
      const c = net.connect(server.address().port, () => c.end(
        'HEAD /write HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nHEAD /end HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' +
        'GET /write HTTP/1.1\\r\\nHost: x\\r\\nX-St: 304\\r\\n\\r\\nGET /end HTTP/1.1\\r\\nHost: x\\r\\nX-St: 204\\r\\n\\r\\n' +
        'HEAD /empty HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /empty HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
      let got = ''; c.on('data', (d) => { got += d; }); c.on('close', () => { console.log(JSON.stringify(got)); server.close(); });
    });
"""

import re

import pytest

from hostile import exchange

NOT_ALLOWED = "ERR_HTTP_BODY_NOT_ALLOWED"


def _tries(*calls):
    out = []
    for call in calls:
        try:
            call()
            out.append("ok")
        except Exception as exc:  # the code is what is compared
            out.append(getattr(exc, "code", repr(exc)))
    return out


def _setup(server, st):
    def on_request(req, res):
        res.status_code = int(req.headers.get("x-st") or 200)
        if req.url == "/write":
            st.record(req.method, req.url, res.status_code,
                      _tries(lambda: res.write("abc"), lambda: res.write("")), res.headers_sent)
        elif req.url == "/end":
            st.record(req.method, req.url, res.status_code,
                      _tries(lambda: res.end("abc"), lambda: res.end(b"")), res.headers_sent)
        elif req.url == "/empty":
            st.record(req.method, req.url, res.status_code, _tries(lambda: res.end("")), res.headers_sent)
        else:
            res.set_header("x-r", "plain")
        res.end()
    server.on("request", on_request)


def _heads(data):
    return re.sub(rb"Date: [^\r]*\r\n", b"", data)


KEEP = b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n"


def test_a_body_for_an_answer_without_one_raises_and_end_then_sends_the_head(serve):
    """Every chunk (an empty bytes too; an empty str given to ``end`` is none) raises; the
    head is fixed but unsent until ``end()``; the connection serves on."""
    st = serve(_setup, reject_non_standard_body_writes=True)
    got = exchange(st.port, b"HEAD /write HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"HEAD /end HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /write HTTP/1.1\r\nHost: x\r\nX-St: 304\r\n\r\n"
                            b"GET /end HTTP/1.1\r\nHost: x\r\nX-St: 204\r\n\r\n"
                            b"HEAD /empty HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _heads(got) == (b"HTTP/1.1 200 OK\r\n" + KEEP + b"\r\n"
                           b"HTTP/1.1 200 OK\r\n" + KEEP + b"\r\n"
                           b"HTTP/1.1 304 Not Modified\r\n" + KEEP + b"\r\n"
                           b"HTTP/1.1 204 No Content\r\n" + KEEP + b"\r\n"
                           b"HTTP/1.1 200 OK\r\n" + KEEP + b"\r\n"
                           b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    st.wait_for(lambda e: e[:2] == ("GET", "/empty"))
    assert st.events == [
        ("HEAD", "/write", 200, [NOT_ALLOWED, NOT_ALLOWED], True),
        ("HEAD", "/end", 200, [NOT_ALLOWED, NOT_ALLOWED], True),
        ("GET", "/write", 304, [NOT_ALLOWED, NOT_ALLOWED], True),
        ("GET", "/end", 204, [NOT_ALLOWED, NOT_ALLOWED], True),
        ("HEAD", "/empty", 200, ["ok"], True),
        ("GET", "/empty", 200, ["ok"], True),
    ]


def test_without_the_option_a_body_for_a_head_answer_is_dropped_silently(serve):
    st = serve(_setup)
    assert st.server.reject_non_standard_body_writes is False
    got = exchange(st.port, b"HEAD /write HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _heads(got) == b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    assert st.wait_for(lambda e: e[1] == "/write") == ("HEAD", "/write", 200, ["ok", "ok"], True)


def test_the_attribute_set_after_creation_applies_to_the_next_write(serve):
    st = serve(_setup)
    st.call(setattr, st.server, "reject_non_standard_body_writes", True)
    exchange(st.port, b"GET /write HTTP/1.1\r\nHost: x\r\nX-St: 204\r\nConnection: close\r\n\r\n")
    assert st.wait_for(lambda e: e[1] == "/write") == ("GET", "/write", 204, [NOT_ALLOWED, NOT_ALLOWED], True)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_option_must_be_a_bool(serve, value):
    import prefork
    with pytest.raises(TypeError) as info:
        prefork.create_server(reject_non_standard_body_writes=value)
    assert info.value.code == "ERR_INVALID_ARG_TYPE"
