"""A request body written with backpressure (``write`` until it says False, then wait
for ``drain``) to a server that reads slowly: ``write`` says False past the mark before
the socket is there and after, ``drain`` always follows, and the whole body arrives;
side by side with Node's client."""

import asyncio
import hashlib
import json
import socket
import subprocess
import time

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head

TOTAL = 4 << 20
CHUNK = bytes(range(256)) * 256  # 64 KiB


def slow_server(got):
    srv = RawServer(slow_reader(got))
    # a small receive window (the accepted sockets take it from the listener): the
    # kernel cannot absorb the whole body, so the client's own buffers fill
    srv.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    return srv


def slow_reader(got):
    """Reads the body in small bites, then answers with its size and digest."""
    def handler(conn, index):
        head = read_head(conn)
        body = head.partition(b"\r\n\r\n")[2]
        digest = hashlib.sha256(body)
        size = len(body)
        while size < TOTAL:
            time.sleep(0.002)  # a slow reader: the client's buffers fill
            chunk = conn.recv(16384)
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
        reply = f"{size} {digest.hexdigest()}".encode()
        got.append(reply)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)
    return handler


NODE_PUMP = r"""
const http = require('http');
const [port, wait] = [+process.argv[1], process.argv[2] === 'after'];
const chunk = Buffer.alloc(65536); for (let i = 0; i < 65536; i++) chunk[i] = i % 256;
const req = http.request({host: '127.0.0.1', port, method: 'PUT', agent: false, headers: {'Content-Length': String(4 << 20)}});
let falses = 0;
async function pump() {
  if (wait) await new Promise((resolve) => req.once('socket', (s) => s.once('connect', resolve)));
  for (let sent = 0; sent < (4 << 20); sent += chunk.length) {
    if (!req.write(chunk)) { falses++; await new Promise((resolve) => req.once('drain', resolve)); }
  }
  req.end();
}
req.on('response', (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => console.log(JSON.stringify([b, falses > 0]))); });
pump();
"""


@pytest.mark.parametrize("when", ["before", "after"], ids=["before the socket", "after the socket connected"])
def test_writes_with_backpressure_get_their_drain_as_with_node(when):
    got = []
    srv = slow_server(got)
    try:
        async def main():
            req = prefork.request({"host": "127.0.0.1", "port": srv.port, "method": "PUT", "agent": False,
                                   "headers": {"Content-Length": str(TOTAL)}})
            if when == "after":
                connected = asyncio.get_running_loop().create_future()
                req.once("socket", lambda s: s.once("connect", lambda: connected.set_result(None)))
                await asyncio.wait_for(connected, 10)
            falses = 0
            for _ in range(TOTAL // len(CHUNK)):
                if not req.write(CHUNK):
                    falses += 1
                    drained = asyncio.get_running_loop().create_future()
                    req.once("drain", lambda: drained.done() or drained.set_result(None))
                    await asyncio.wait_for(drained, 10)  # a drain that never comes fails here
            req.end()
            res = await asyncio.wait_for(req, 10)
            return (await asyncio.wait_for(res.read(), 10)).decode(), falses > 0
        ours = asyncio.run(main())
    finally:
        srv.close()
    expected = f"{TOTAL} {hashlib.sha256(CHUNK * (TOTAL // len(CHUNK))).hexdigest()}"
    assert ours == (expected, True)
    if NODE is not None:
        got = []
        srv = slow_server(got)
        try:
            out = subprocess.run([NODE, "-e", NODE_PUMP, str(srv.port), when], capture_output=True, text=True,
                                 timeout=60)
        finally:
            srv.close()
        assert json.loads(out.stdout) == list(ours)


def test_a_pump_before_the_socket_does_not_hold_the_whole_body():
    """Writes made before the socket is given say False past the mark, so a pump that
    respects them keeps at most about the mark in the request's own queue."""
    got = []
    srv = slow_server(got)
    peak = []
    try:
        async def main():
            req = prefork.request({"host": "127.0.0.1", "port": srv.port, "method": "PUT", "agent": False,
                                   "headers": {"Content-Length": str(TOTAL)}})
            written = 0
            while written < TOTAL:
                ok = req.write(CHUNK)
                written += len(CHUNK)
                if req.socket is None:
                    peak.append(written)
                if not ok:
                    drained = asyncio.get_running_loop().create_future()
                    req.once("drain", lambda: drained.done() or drained.set_result(None))
                    await asyncio.wait_for(drained, 10)
            req.end()
            res = await asyncio.wait_for(req, 10)
            return await asyncio.wait_for(res.read(), 10)
        asyncio.run(main())
    finally:
        srv.close()
    assert got and got[0].startswith(b"%d " % TOTAL)
    assert max(peak) <= 2 * len(CHUNK)


