"""A head holding non-ASCII text (a field value, the status message: ``é``) goes out in
the encoding Node sends it in: Node joins the head to the first chunk it sends and
writes both in that chunk's encoding, so the head is UTF-8 with a first ``str`` chunk in
``utf8`` (or no encoding) on an unchunked body, and from ``flush_headers()``; latin-1
otherwise (bytes, another encoding, a chunked chunk, ``end()``, no body). prefork always
sent it as latin-1."""

from head_fields import node_head_fields, prefork_head_fields

NODE = r"""
  const u = req.url; res.setHeader('X', 'é');
  if (u === '/end-text') res.end('a');
  else if (u === '/end-bytes') res.end(Buffer.from('a'));
  else if (u === '/end') res.end();
  else if (u === '/chunked-text') { res.write('a'); res.end(); }
  else if (u === '/chunked-empty') { res.write(''); res.end('a'); }
  else if (u === '/length-text') { res.setHeader('Content-Length', 1); res.write('a'); res.end(); }
  else if (u === '/length-utf8') { res.setHeader('Content-Length', 1); res.write('a', 'utf8'); res.end(); }
  else if (u === '/length-ascii') { res.setHeader('Content-Length', 1); res.write('a', 'ascii'); res.end(); }
  else if (u === '/flush') { res.flushHeaders(); res.end('a'); }
  else if (u === '/end-latin1') res.end('a', 'latin1');
  else if (u === '/end-hex') res.end('61', 'hex');
  else if (u === '/no-body') { res.statusCode = 204; res.end('a'); }
  else if (u === '/message') { res.writeHead(200, 'Hé', {'Content-Length': 1}); res.end('a'); }
"""
PATHS = ("/end-text", "/end-bytes", "/end", "/chunked-text", "/chunked-empty", "/length-text", "/length-utf8",
         "/length-ascii", "/flush", "/end-latin1", "/end-hex", "/no-body", "/message")


def on_request(req, res):
    u = req.url
    res.set_header("X", "é")
    if u == "/end-text":
        res.end("a")
    elif u == "/end-bytes":
        res.end(b"a")
    elif u == "/end":
        res.end()
    elif u == "/chunked-text":
        res.write("a")
        res.end()
    elif u == "/chunked-empty":
        res.write("")
        res.end("a")
    elif u.startswith("/length-"):
        res.set_header("Content-Length", 1)
        res.write("a", {"/length-utf8": "utf8", "/length-ascii": "ascii"}.get(u))
        res.end()
    elif u == "/flush":
        res.flush_headers()
        res.end("a")
    elif u == "/end-latin1":
        res.end("a", "latin1")
    elif u == "/end-hex":
        res.end("61", "hex")
    elif u == "/no-body":
        res.status_code = 204
        res.end("a")
    elif u == "/message":
        res.write_head(200, "Hé", {"Content-Length": 1})
        res.end("a")


def test_a_non_ascii_head_goes_out_in_the_encoding_node_sends_it_in():
    pattern = "^(X:|HTTP/)"
    expected = node_head_fields(NODE, PATHS, pattern)
    assert expected[0] == ["/end-text", ["HTTP/1.1 200 OK", "X: \xc3\xa9"]]
    assert expected[1] == ["/end-bytes", ["HTTP/1.1 200 OK", "X: \xe9"]]
    assert prefork_head_fields(on_request, PATHS, pattern) == expected


NODE_BYTES = r"""
  res.setHeader('X', Buffer.from('é'));
  if (req.url === '/flush') res.flushHeaders();
  res.end('a');
"""


def on_request_bytes(req, res):
    res.set_header("X", "é".encode())
    if req.url == "/flush":
        res.flush_headers()
    res.end("a")


def test_a_field_value_given_as_bytes_goes_out_as_those_bytes_with_a_text_body():
    # Node's Buffer value is its UTF-8 text, sent as UTF-8 with a text body: the same
    # bytes; prefork's bytes value is sent as given (never re-encoded: it sent c3 83 c2 a9)
    pattern = "^X:"
    expected = node_head_fields(NODE_BYTES, ("/end", "/flush"), pattern)
    assert expected == [["/end", ["X: \xc3\xa9"]], ["/flush", ["X: \xc3\xa9"]]]
    assert prefork_head_fields(on_request_bytes, ("/end", "/flush"), pattern) == expected


def test_a_head_with_ascii_bytes_values_and_spelled_bytes_lines_keeps_each_rule():
    # an ASCII value given as bytes does not keep the head latin-1 (Node: UTF-8 for
    # ``X-Name`` with a text body); a non-ASCII bytes value on a line spelled otherwise
    # keeps its bytes, as on a line spelled alike
    def on_request(req, res):
        if req.url == "/ascii-bytes":
            res.set_header("Content-Type", b"text/plain")
            res.set_header("X-Name", "José")
        else:
            res.write_head(200, [["X-A", "1"], ["x-a", b"\xe9"]])
        res.end("hi")
    got = prefork_head_fields(on_request, ("/ascii-bytes", "/spelled-bytes"), "^(X-Name|x-a):", ignore_case=False)
    assert got == [["/ascii-bytes", ["X-Name: Jos\xc3\xa9"]], ["/spelled-bytes", ["x-a: \xe9"]]]
