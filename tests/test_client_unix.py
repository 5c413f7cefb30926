"""The client over a UNIX socket (Node's ``socketPath``, here ``socket_path``): the
same head as Node's client sends (Host ``localhost``), a kept-alive socket reused by
the agent, and a path with nothing behind it is ``error`` ENOENT, as in Node. A raw
server on a UNIX socket of the test's own directory answers both clients."""

import asyncio
import json
import os
import socket
import subprocess
import tempfile
import threading

import pytest

import prefork
from harness import NODE
from prefork.client.agent import Agent


class UnixServer:
    """Keeps each request head it reads; answers 200 "ok" and keeps the connection."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.heads, self.accepted = [], 0
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, data = data.split(b"\r\n\r\n", 1)
                self.heads.append(head)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


@pytest.fixture
def path():
    directory = tempfile.mkdtemp(prefix="pf-unix-")
    yield os.path.join(directory, "app.sock")
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


NODE_CLIENT = r"""
const http = require('http');
const agent = new http.Agent({keepAlive: true});
const out = [];
function one(done) {
  http.get({socketPath: process.argv[1], path: '/x', agent}, (res) => {
    let body = ''; res.on('data', (d) => body += d);
    res.on('end', () => { out.push([res.statusCode, body]); done(); });
  }).on('error', (e) => { out.push(['error', e.code]); done(); });
}
one(() => setImmediate(() => one(() => { console.log(JSON.stringify(out)); agent.destroy(); })));
"""


def prefork_client(path):
    async def main():
        agent = Agent(keep_alive=True)
        out = []
        for _ in range(2):
            try:
                res = await asyncio.wait_for(prefork.get({"socket_path": path, "path": "/x", "agent": agent}), 10)
                out.append([res.status_code, (await asyncio.wait_for(res.read(), 10)).decode()])
            except prefork.HTTPError as exc:
                out.append(["error", exc.code])
            await asyncio.sleep(0)  # the socket back in the pool (Node: the next request on setImmediate)
        agent.destroy()
        return out
    return asyncio.run(main())


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_requests_over_a_unix_socket_as_node_sends_them(path):
    server = UnixServer(path)
    try:
        mine = prefork_client(path)
        ours = (list(server.heads), server.accepted)
        server.heads.clear()
        server.accepted = 0
        out = subprocess.run([NODE, "-e", NODE_CLIENT, "--", path], capture_output=True, text=True, timeout=30)
        theirs = (list(server.heads), server.accepted)
    finally:
        server.close()
    assert mine == json.loads(out.stdout) == [[200, "ok"], [200, "ok"]]
    assert ours == theirs
    assert ours[1] == 1 and ours[0][0].startswith(b"GET /x HTTP/1.1\r\nHost: localhost\r\n")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_nothing_behind_the_path_is_enoent_as_in_node(path):
    mine = prefork_client(path)
    out = subprocess.run([NODE, "-e", NODE_CLIENT, "--", path], capture_output=True, text=True, timeout=30)
    assert mine == json.loads(out.stdout) == [["error", "ENOENT"], ["error", "ENOENT"]]
