"""A response whose Transfer-Encoding ends in ``chunked`` followed by a tab: llhttp (Node's
and httptools') reads that coding as another one, so the body is close-delimited, its
bytes the body as they come. The response parser must not read them as chunk-size lines
as well (a ``;`` then 16 KiB without a line end was refused as a chunk extensions
overflow). Compared with Node 20's ``http.get`` over loopback."""

import base64
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import need_node  # noqa: E402
from prefork.http.errors import ParseError  # noqa: E402
from prefork.http.parser import ResponseParser  # noqa: E402

# a raw server sends the response and closes; Node's client reads it: its body's length,
# or its error code
_NODE = r"""
const net = require('net'), http = require('http');
const data = Buffer.from(process.argv[1], 'base64');
const srv = net.createServer((s) => { s.on('error', () => {}); s.once('data', () => s.end(data)); });
srv.listen(0, '127.0.0.1', () => {
  const req = http.get({ port: srv.address().port, host: '127.0.0.1', agent: false }, (res) => {
    let n = 0;
    res.on('data', (c) => { n += c.length; });
    res.on('end', () => { console.log(JSON.stringify({ body: n })); srv.close(); });
    res.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message })); srv.close(); });
  });
  req.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); srv.close(); });
});
"""

_BODY = b"1;" + b"a" * 40000


class _Body:
    def __init__(self):
        self.size = 0

    def on_headers(self, *head):
        pass

    def on_body(self, body):
        self.size += len(body)

    def on_message_complete(self, trailers):
        pass


def _node(data):
    out = subprocess.run([need_node(), "-e", _NODE, base64.b64encode(data).decode()], capture_output=True,
                         timeout=20, check=True)
    return json.loads(out.stdout.splitlines()[0])  # (the first outcome: an error may follow an error)


def _ours(data, reads=4):
    handler = _Body()
    parser = ResponseParser(handler, 16384)
    step = len(data) // reads + 1
    try:
        for start in range(0, len(data), step):
            parser.feed(data[start:start + step])
        parser.finish()  # the server closed: the close-delimited body ends
    except ParseError as err:
        return {"error": err.code}
    return {"body": handler.size}


@pytest.mark.parametrize("coding", [b"chunked\t", b"chunked \t", b"chunked\t ", b"gzip, chunked\t"])
def test_chunked_then_tab_is_close_delimited_as_in_node(coding):
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + _BODY
    theirs = _node(data)
    assert theirs == {"body": len(_BODY)}
    assert _ours(data) == theirs


@pytest.mark.parametrize("coding", [b"chunked", b"chunked ", b"gzip\t, chunked ", b"chunked\t, chunked"])
def test_chunked_last_still_chunked(coding):
    """(a tab elsewhere, or spaces after it: chunked, and the extensions limit holds)"""
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + _BODY
    assert _node(data) == {"error": "HPE_CHUNK_EXTENSIONS_OVERFLOW"}
    assert _ours(data) == {"error": "HPE_CHUNK_EXTENSIONS_OVERFLOW"}
