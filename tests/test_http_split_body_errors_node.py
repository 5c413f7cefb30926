"""Messages whose body (Content-Length, chunked, read to the close) is followed by an
error, a pipelined message, trailers or an upgrade, fed in reads split at every
position (two reads; three reads on a grid; a byte a read), against Node 20's own
parser (llhttp through the http module's binding): the error code and offset (Node's
``bytesParsed``), the events and the body bytes must be Node's. The request side runs
``RequestParser`` (tests/node_parser.js), the response side ``ResponseParser`` (the
client's; Node's parser in RESPONSE mode, below). A body is never handed over as
anything but its own bytes, however the reads cut it."""

import base64
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from prefork.http.errors import ParseError  # noqa: E402
from prefork.http.parser import ResponseParser  # noqa: E402
from test_fuzz import NodeParser, known_difference, prefork_parse  # noqa: E402

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

REQUESTS = [
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789GET / HTTP/1.1\r\nHo\x01st: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n\r\n\r\n\r\n\r\n\r\nXGET / HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\nZ\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabcX\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nTr: x\r\nBa\x01d: y\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe\r\n\r\n\r\n0\r\n\r\n"
    b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x00\x00\x00POST /x HTTP/1.1\r\nA: \x7f\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n\r\n\r\n\r\n\r\n\r\n\r\n0;e=\x01\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x00\x01raw",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcCONNECT a:1 HTTP/1.1\r\n\r\n\r\n\r\nraw bytes",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
    b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\nfffffffffffffffffff\r\n",
]

RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\r\n\r\n\r\n\r\n\r\nHTTP/1.1 200 OK\r\nA\x01: b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloXTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n\r\n\r\n\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nT: 1\r\nB\x01: 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\r\n\r\n0\r\n\r\nHTTP/1.1 204 No\r\n\r\nzz",
    b"HTTP/1.0 200 OK\r\n\r\n\r\n\r\nbody\x00\xffto the end\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\r\n\r\n\r\nclose-delimited",
]

NODE_RESPONSE_PARSER = r"""
const { HTTPParser } = require('_http_common');
const readline = require('readline');
function run(reads) {
  const events = [];
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, 16384, 0);
  parser[HTTPParser.kOnHeaders] = () => {};
  parser[HTTPParser.kOnHeadersComplete] = (major, minor, headers, method, url, status) => {
    events.push(['head', status]);
    return 0;
  };
  parser[HTTPParser.kOnBody] = (buf, start, len) => {
    const body = (start === undefined ? buf : buf.slice(start, start + len)).toString('latin1');
    const last = events[events.length - 1];
    if (last && last[0] === 'body') last[1] += body; else events.push(['body', body]);
  };
  parser[HTTPParser.kOnMessageComplete] = () => { events.push(['done']); };
  parser[HTTPParser.kOnExecute] = () => {};
  let fed = 0;
  for (const read of reads) {
    const buf = Buffer.from(read, 'base64');
    const ret = parser.execute(buf);
    if (ret instanceof Error) return { events, error: [ret.code, fed + ret.bytesParsed] };
    fed += buf.length;
  }
  const ret = parser.finish();
  if (ret instanceof Error) return { events, error: [ret.code, fed + ret.bytesParsed] };
  return { events, error: null };
}
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  process.stdout.write(JSON.stringify(run(JSON.parse(line))) + '\n');
});
"""


class Recorder:
    def __init__(self):
        self.events = []

    def on_message_begin(self):
        pass

    def on_headers(self, status, reason, version, raw, keep_alive, upgrade):
        self.events.append(["head", status])

    def on_body(self, body):
        text = bytes(body).decode("latin-1")
        if not text:
            return
        if self.events and self.events[-1][0] == "body":
            self.events[-1][1] += text
        else:
            self.events.append(["body", text])

    def on_message_complete(self, trailers):
        self.events.append(["done"])


def parse_response(reads):
    rec = Recorder()
    parser = ResponseParser(rec, 16384)
    fed = 0
    try:
        for read in reads:
            parser.feed(read)
            fed += len(read)
        parser.finish()
    except ParseError as err:
        return {"events": rec.events, "error": [err.code, fed + (err.bytes_parsed or 0)]}
    if parser.in_message and parser.headers_complete:
        rec.events.append(["done"])  # a close-delimited body ends at the close (the caller's part)
    return {"events": rec.events, "error": None}


def splits(message):
    n = len(message)
    yield [message]
    for i in range(1, n):
        yield [message[:i], message[i:]]
    for i in range(1, n, 3):
        for j in range(i + 1, n, 4):
            yield [message[:i], message[i:j], message[j:]]
    yield [message[i:i + 1] for i in range(n)]


def node_results(script_args, batch):
    lines = "".join(json.dumps([base64.b64encode(r).decode() for r in reads]) + "\n" for reads in batch)
    out = subprocess.run([NODE, *script_args], input=lines, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_requests_split_everywhere_agree_with_node():
    node = NodeParser()
    try:
        failures = []
        for message in REQUESTS:
            batch = list(splits(message))
            for reads, theirs in zip(batch, node.parse_many(batch)):
                ours = prefork_parse(reads)
                if ours != theirs and known_difference(message, theirs, ours) is None:
                    failures.append((reads, theirs, ours))
    finally:
        node.close()
    assert not failures, "\n".join(f"{r!r}\n node: {t}\n ours: {o}" for r, t, o in failures[:3])


def test_responses_split_everywhere_agree_with_node():
    failures = []
    for message in RESPONSES:
        batch = list(splits(message))
        for reads, theirs in zip(batch, node_results(["-e", NODE_RESPONSE_PARSER], batch)):
            ours = parse_response(reads)
            if ours != theirs:
                failures.append((reads, theirs, ours))
    assert not failures, "\n".join(f"{r!r}\n node: {t}\n ours: {o}" for r, t, o in failures[:3])
