"""``res.write_early_hints`` writes a hint whose value is a list as Node 20 writes it,
as JavaScript's ``String()`` of an array: one line, its items joined with "," (nested
lists too, an empty list an empty value); a list of links is one ``Link`` line joined
with ", ". prefork wrote one line per item (and none for an empty list). Compared with
the bytes of a real Node server given the same hints."""

import json
import shutil
import socket
import subprocess

HINTS_JS = ("{link: ['</a.css>; rel=preload', '</b.js>; rel=preload; as=script'], 'x-foo': ['a', 'b'], "
            "'x-nest': [['a', 'b'], 'c', true], 'x-e': [], 'x-n': 5}")
HINTS = {"link": ["</a.css>; rel=preload", "</b.js>; rel=preload; as=script"], "x-foo": ["a", "b"],
         "x-nest": [["a", "b"], "c", True], "x-e": [], "x-n": 5}
NODE = """
const http = require('http'), net = require('net');
const srv = http.createServer((req, res) => { res.writeEarlyHints(%s); res.end('ok'); });
srv.listen(0, '127.0.0.1', () => {
  const s = net.connect(srv.address().port, '127.0.0.1', () => s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
  let d = ''; s.setEncoding('latin1'); s.on('data', c => d += c);
  s.on('end', () => { console.log(JSON.stringify(d)); srv.close(); });
});
""" % HINTS_JS


def _interim(reply):
    return reply[:reply.index("HTTP/1.1 200 ")]


def test_a_list_valued_hint_is_one_line_joined_as_node_joins_it(serve):
    node = subprocess.run([shutil.which("node"), "-e", NODE], capture_output=True, text=True, timeout=20)
    assert node.returncode == 0, node.stderr
    expected = _interim(json.loads(node.stdout))
    st = serve(lambda server, st: server.on("request", lambda req, res: (res.write_early_hints(HINTS),
                                                                         res.end("ok"))))
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    assert _interim(reply.decode("latin-1")) == expected
    assert "x-foo: a,b\r\n" in expected and "x-e: \r\n" in expected  # (what Node writes)


def test_a_line_end_in_bytes_nested_in_a_hints_list_is_refused_and_nothing_is_sent(serve):
    # the joined text is what is checked: b"a\r\nSet-Cookie: evil=1" inside a list inside a
    # list went out as a second header line
    errors = []

    def on_request(req, res):
        try:
            res.write_early_hints({"link": "</a.css>; rel=preload", "x-a": [[b"a\r\nSet-Cookie: evil=1"]]})
        except Exception as exc:  # noqa: BLE001 (the code is what is asserted)
            errors.append(getattr(exc, "code", None))
        res.end("ok")
    st = serve(lambda server, st: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while data := sock.recv(65536):
            reply += data
    assert errors == ["ERR_INVALID_CHAR"]
    assert reply.startswith(b"HTTP/1.1 200 ") and b"evil" not in reply, reply
