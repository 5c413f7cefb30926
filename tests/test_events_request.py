"""What a request listener reads from ``IncomingMessage`` (``set_encoding``,
``readable_ended``), side by side with Node's own http.Server (the machinery is
``test_events_head``'s).

Rules under test (Node v20's):
- ``req.set_encoding(encoding)`` makes body chunks ``str`` (``data`` and ``read()``);
  a character, or a base64 group, split between reads comes whole with the next chunk.
- ``req.read(size)`` takes ``size`` bytes (characters after ``set_encoding``) when that
  many are buffered, else None until the body's end, which gives the rest.
- ``req.readable_ended`` is True once ``end`` is emitted.
- ``pause()`` inside a ``data`` listener stops the chunks kept meanwhile too: the next
  one goes to whoever reads after ``resume()``.
"""

import json

import pytest

from test_events_head import body_of, both, node_server, prefork_setup

NODE_ROUTES = r"""
  '/set-encoding': (req, res) => {
    req.setEncoding(req.headers['x-encoding']);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.end(JSON.stringify({types: [...new Set(chunks.map((c) => typeof c))], text: chunks.join('')})));
  },
  '/set-encoding-read': (req, res) => {
    req.setEncoding('utf8');
    const chunks = [];
    req.on('readable', () => { let c; while ((c = req.read()) !== null) chunks.push(c); });
    req.on('end', () => res.end(JSON.stringify({types: [...new Set(chunks.map((c) => typeof c))], text: chunks.join('')})));
  },
  '/read-size': (req, res) => {
    if (req.headers['x-encoding']) req.setEncoding(req.headers['x-encoding']);
    const got = [];
    req.on('readable', () => { let c; while ((c = req.read(2)) !== null) got.push(c.toString()); });
    req.on('end', () => res.end(JSON.stringify(got)));
  },
  '/pause-mid': (req, res) => {
    req.pause();
    const poll = setInterval(() => {
      if (!req.complete) return;
      clearInterval(poll);
      const first = (c) => {
        note(req.url, ['first', c.toString()]);
        req.pause(); req.removeListener('data', first);
        setImmediate(() => {
          req.on('data', (c) => note(req.url, ['second', c.toString()]));
          req.on('end', () => { note(req.url, 'end'); res.end('x'); });
          req.resume();
        });
      };
      req.on('data', first); req.resume();
    }, 5);
  },
  '/async-set-encoding': async (req, res) => {
    req.setEncoding(req.headers['x-encoding']);
    const parts = [];
    for await (const c of req) parts.push(c);
    res.end(JSON.stringify(parts.join('')));
  },
  '/readable-ended': (req, res) => {
    note(req.url, req.readableEnded);
    req.on('data', () => {});
    req.on('end', () => { note(req.url, req.readableEnded); res.end('x'); });
  },
"""


def answer_chunks(res, chunks):
    types = sorted({"string" if isinstance(chunk, str) else "object" for chunk in chunks})
    text = "".join(chunk if isinstance(chunk, str) else chunk.decode("latin-1") for chunk in chunks)
    res.end(json.dumps({"types": types, "text": text}, separators=(",", ":"), ensure_ascii=False))


def set_encoding(req, res, note):
    req.set_encoding(req.headers["x-encoding"])
    chunks = []
    req.on("data", chunks.append)
    req.on("end", lambda: answer_chunks(res, chunks))


def set_encoding_read(req, res, note):
    req.set_encoding("utf8")
    chunks = []

    def on_readable():
        while (chunk := req.read()) is not None:
            chunks.append(chunk)
    req.on("readable", on_readable)
    req.on("end", lambda: answer_chunks(res, chunks))


def read_size(req, res, note):
    if "x-encoding" in req.headers:
        req.set_encoding(req.headers["x-encoding"])
    got = []

    def on_readable():
        while (chunk := req.read(2)) is not None:
            got.append(chunk if isinstance(chunk, str) else chunk.decode("latin-1"))
    req.on("readable", on_readable)
    req.on("end", lambda: res.end(json.dumps(got, separators=(",", ":"), ensure_ascii=False)))


def pause_mid(req, res, note):
    loop = req.socket.loop
    req.pause()

    def poll():
        if not req.complete:
            loop.call_later(0.005, poll)
            return

        def first(chunk):
            note(req.url, ["first", chunk.decode()])
            req.pause()
            req.remove_listener("data", first)

            def later():
                req.on("data", lambda chunk: note(req.url, ["second", chunk.decode()]))

                def on_end():
                    note(req.url, "end")
                    res.end("x")
                req.on("end", on_end)
                req.resume()
            loop.call_soon(later)
        req.on("data", first)
        req.resume()
    poll()


async def async_set_encoding(req, res, note):
    req.set_encoding(req.headers["x-encoding"])
    parts = [chunk async for chunk in req]
    res.end(json.dumps("".join(parts), ensure_ascii=False))


def readable_ended(req, res, note):
    note(req.url, req.readable_ended)
    req.on("data", lambda chunk: None)

    def on_end():
        note(req.url, req.readable_ended)
        res.end("x")
    req.on("end", on_end)


ROUTES = {"/set-encoding": set_encoding, "/set-encoding-read": set_encoding_read,
          "/readable-ended": readable_ended, "/async-set-encoding": async_set_encoding, "/pause-mid": pause_mid, "/read-size": read_size}


@pytest.fixture(scope="module")
def node_port():
    with node_server(NODE_ROUTES) as port:
        yield port


@pytest.fixture
def ports(serve, node_port):
    return {"node": node_port, "prefork": serve(prefork_setup(ROUTES)).port}


def chunked_post(path, chunks, headers=b""):
    head = b"POST %s HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % (
        path.encode(), headers)
    return [head] + [b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks] + [b"0\r\n\r\n"]


@pytest.mark.parametrize("encoding, chunks, text", [
    ("utf8", [b"h\xc3", b"\xa9llo \xe2\x82", b"\xac"], "h\u00e9llo \u20ac"),
    ("base64", [b"abcd", b"ef", b"g"], "YWJjZGVmZw=="),
    ("base64url", [b"\xfb\xff", b"\xfe"], "-__-"),
    ("hex", [b"\x00\xff", b"a"], "00ff61"),
    ("latin1", [b"caf\xe9"], "caf\u00e9"),
    ("utf16le", [b"h\x00\xe9", b"\x00"], "h\u00e9"),
])
def test_set_encoding_gives_str_chunks_whole_characters_as_node(ports, encoding, chunks, text):
    pieces = chunked_post("/set-encoding", chunks, b"X-Encoding: %s\r\n" % encoding.encode())
    data, _ = both(ports, pieces, "/set-encoding")
    assert json.loads(body_of(data)) == {"types": ["string"], "text": text}


def test_set_encoding_applies_to_read_as_node(ports):
    data, _ = both(ports, chunked_post("/set-encoding-read", [b"\xc3", b"\xa9t\xc3\xa9"]), "/set-encoding-read")
    assert json.loads(body_of(data)) == {"types": ["string"], "text": "\u00e9t\u00e9"}


def test_readable_ended_as_node(ports):
    pieces = [b"POST /readable-ended HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"]
    data, seen = both(ports, pieces, "/readable-ended")
    assert seen == [False, True]
    assert body_of(data) == b"x"


@pytest.mark.parametrize("chunks, headers, expected", [
    ([b"abcde"], b"", ["ab", "cd", "e"]),  # "e" only once the body is complete
    ([b"abc", b"defg"], b"", ["ab", "cd", "ef", "g"]),
    ([b"\xc3\xa9t\xc3\xa9s"], b"X-Encoding: utf8\r\n", ["\u00e9t", "\u00e9s"]),
])
def test_read_with_a_size_as_node(ports, chunks, headers, expected):
    data, _ = both(ports, chunked_post("/read-size", chunks, headers), "/read-size")
    assert json.loads(body_of(data)) == expected


def test_pause_in_a_data_listener_holds_the_kept_chunks_as_node(ports):
    pieces = chunked_post("/pause-mid", [b"aaa", b"bbb", b"ccc"])
    data, seen = both(ports, pieces, "/pause-mid", until="end")
    assert seen == [["first", "aaa"], ["second", "bbb"], ["second", "ccc"], "end"]
    assert body_of(data) == b"x"


@pytest.mark.parametrize("encoding, text", [("base64", "w6lhYmM="), ("hex", "c3a9616263"), ("utf8", "\u00e9abc")])
def test_set_encoding_in_a_coroutine_after_the_whole_body_came_as_node(ports, encoding, text):
    """The body arrives with the head, so a coroutine listener (which starts on a later
    loop turn in prefork, at once in Node) sets the encoding once the body is complete:
    the bytes it kept are decoded whole, the last partial group too."""
    request = (b"POST /async-set-encoding HTTP/1.1\r\nHost: x\r\nX-Encoding: %s\r\nContent-Length: 5\r\n"
               b"Connection: close\r\n\r\n\xc3\xa9abc" % encoding.encode())
    data, _ = both(ports, [request], "/async-set-encoding")
    assert json.loads(body_of(data)) == text
