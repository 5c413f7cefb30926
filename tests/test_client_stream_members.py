"""Node's stream members a caller reads on a client request and its response:
``req.closed`` (``close`` was emitted), ``req.writable_object_mode`` and
``res.readable_object_mode`` (False), ``res.readable_encoding`` (None, then the
``set_encoding`` encoding by Node's name), ``res.readable_length`` (the body bytes kept
for a reader: 0 once read) and ``res.readable_high_water_mark``. Compared with Node's
client against the same raw server where Node's values are the same."""

import asyncio
import json
import subprocess

import prefork
from harness import need_node
from test_hostile_client import RawServer, read_head

ENCODINGS = ["UTF-8", "binary", "ucs2", "Latin1", "base64url", "hex", "ascii", "utf-16le", "ucs-2", "utf8", "base64"]

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const seen = [];
const req = http.request({port, host: '127.0.0.1', path: '/', agent: false}, (res) => {
  seen.push(['response', req.closed, req.writableObjectMode, res.readableObjectMode, res.readableEncoding]);
  for (const enc of JSON.parse(process.argv[2])) { res.setEncoding(enc); seen.push([enc, res.readableEncoding]); }
  res.resume();
  res.on('end', () => seen.push(['end', req.closed, res.readableLength]));
});
seen.push(['start', req.closed]);
req.on('close', () => { seen.push(['close', req.closed]); setImmediate(() => console.log(JSON.stringify(seen))); });
req.end();
"""


def answer(conn, index):
    if read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")


def prefork_seen(port):
    seen = []

    async def main():
        closed = asyncio.get_running_loop().create_future()

        def on_response(res):
            seen.append(["response", req.closed, req.writable_object_mode, res.readable_object_mode,
                         res.readable_encoding])
            for enc in ENCODINGS:
                res.set_encoding(enc)
                seen.append([enc, res.readable_encoding])
            res.resume()
            res.on("end", lambda: seen.append(["end", req.closed, res.readable_length]))

        req = prefork.request({"port": port, "host": "127.0.0.1", "path": "/", "agent": False}, on_response)
        seen.append(["start", req.closed])
        req.on("close", lambda: (seen.append(["close", req.closed]), closed.set_result(None)))
        req.end()
        await asyncio.wait_for(closed, 10)
    asyncio.run(main())
    return seen


def test_stream_members_as_node():
    node = need_node()
    srv = RawServer(answer)
    try:
        out = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port), json.dumps(ENCODINGS)],
                             capture_output=True, timeout=30, text=True)
        ours = prefork_seen(srv.port)
    finally:
        srv.close()
    assert ours == json.loads(out.stdout), out.stderr
    assert ours[-1] == ["close", True]


def test_readable_length_counts_the_body_kept_for_a_reader():
    def kept(conn, index):
        if read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")
            while conn.recv(65536):
                pass
    srv = RawServer(kept)
    try:
        async def main():
            req = prefork.request({"port": srv.port, "host": "127.0.0.1", "path": "/", "agent": False})
            req.end()
            res = await asyncio.wait_for(req, 10)
            for _ in range(1000):  # (until the body is in: a bounded wait)
                if res.complete:
                    break
                await asyncio.sleep(0.005)
            assert (res.complete, res.readable_length, res.readable_high_water_mark) == (True, 4, 64 * 1024)
            assert await res.read() == b"body"
            assert res.readable_length == 0
        asyncio.run(main())
    finally:
        srv.close()
