r"""A status message holding a character a head cannot carry (CR, LF, NUL, DEL, past
U+00FF) is refused with ERR_INVALID_CHAR whose message names the status message (Node's
"Invalid character in statusMessage"), not a header: it used to say "Invalid character
in header content ['status message']", sending a user to look for a bad header. Nothing
is sent by the refused call; a good status message then goes out.

The same program on Node v20.20 (its codes and bytes are the ones asserted):

    const http = require('http'), net = require('net');
    const server = http.createServer((req, res) => {
      const t = (f) => { try { f(); return 'ok'; } catch (e) { return e.code + ': ' + e.message; } };
      if (req.url === '/head') {
        for (const m of ['OK\r\nX: y', 'a\u0100', 'a\x00b', 'a\x7fb']) console.log(t(() => res.writeHead(299, m)));
        res.writeHead(299, 'a\tb'); res.end('x');
      } else {
        res.statusMessage = 'bad\nmessage'; console.log(t(() => res.end('x')));
        res.statusMessage = 'ok'; res.end('y');
      }
    });
    server.listen(0, () => {
      const c = net.connect(server.address().port, () => c.end(
        'GET /head HTTP/1.1\r\nHost: x\r\n\r\nGET /attr HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let got = ''; c.on('data', (d) => { got += d; }); c.on('close', () => { console.log(JSON.stringify(got)); server.close(); });
    });
    // ERR_INVALID_CHAR: Invalid character in statusMessage (5 times), then
    // "HTTP/1.1 299 a\tb\r\n...chunked...1\r\nx\r\n0\r\n\r\nHTTP/1.1 200 ok\r\n...Content-Length: 1\r\n\r\ny"
"""

import re

from hostile import exchange

BAD = ["OK\r\nX: y", "a\u0100", "a\x00b", "a\x7fb"]


def _try(call):
    try:
        call()
        return "ok"
    except Exception as exc:  # the code and message are what is compared
        return f"{getattr(exc, 'code', None)}: {exc}"


def test_a_bad_status_message_is_refused_as_such_and_a_good_one_then_goes_out(serve):
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/head":
                st.record("head", [_try(lambda: res.write_head(299, m)) for m in BAD], res.headers_sent)
                res.write_head(299, "a\tb")
                res.end("x")
            else:
                res.status_message = "bad\nmessage"
                st.record("attr", _try(lambda: res.end("x")), res.headers_sent)
                res.status_message = "ok"
                res.end("y")
        server.on("request", on_request)

    st = serve(setup)
    got = exchange(st.port, b"GET /head HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /attr HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    refused = "ERR_INVALID_CHAR: Invalid character in status_message"
    assert st.wait_for(lambda e: e[0] == "head") == ("head", [refused] * 4, False)
    assert st.wait_for(lambda e: e[0] == "attr") == ("attr", refused, False)
    assert re.sub(rb"Date: [^\r]*\r\n", b"", got) == (
        b"HTTP/1.1 299 a\tb\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
        b"HTTP/1.1 200 ok\r\nConnection: close\r\nContent-Length: 1\r\n\r\ny")
