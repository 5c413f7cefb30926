"""``res.write()`` corks the socket until the next loop turn, as Node's response does:
a ``destroy()`` of the socket (or of the response) in the same turn drops what was
written, so nothing goes on the wire; an ``end()`` before it sends everything; bytes
written on an earlier turn are out already. Compared with Node 20 when it is installed."""

import json
import re
import shutil
import socket
import subprocess

import pytest

from hostile import read_to_close

NODE = shutil.which("node")
URLS = ["/a", "/b", "/c", "/d"]

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const server = http.createServer((req, res) => {
  const s = req.socket;
  if (req.url === '/a') { res.write('hello'); s.destroy(); }
  else if (req.url === '/b') { res.write('hello'); res.end('bye'); s.destroy(); }
  else if (req.url === '/c') { res.write('hello'); setTimeout(() => { res.write('more'); s.destroy(); }, 20); }
  else if (req.url === '/d') { res.write('hello'); res.destroy(); }
});
server.listen(0, '127.0.0.1', async () => {
  const out = {};
  for (const url of %s) {
    out[url] = await new Promise((resolve) => {
      const c = net.connect(server.address().port, '127.0.0.1', () => c.write(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`));
      const chunks = []; c.on('data', (d) => chunks.push(d)); c.on('error', () => {});
      c.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
  }
  console.log(JSON.stringify(out));
  server.close();
});
""" % json.dumps(URLS)


def on_request(req, res):
    s = req.socket
    if req.url == "/a":
        res.write("hello")
        s.destroy()
    elif req.url == "/b":
        res.write("hello")
        res.end("bye")
        s.destroy()
    elif req.url == "/c":
        res.write("hello")
        s.loop.call_later(0.02, lambda: (res.write("more"), s.destroy()))
    elif req.url == "/d":
        res.write("hello")
        res.destroy()


def undated(data):
    return re.sub(rb"Date: [^\r]*", b"Date: D", data)


@pytest.fixture
def prefork_bytes(serve):
    st = serve(lambda server, st_: server.on("request", on_request))
    out = {}
    for url in URLS:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.encode())
            out[url] = undated(read_to_close(sock))
    return out


HEAD = (b"HTTP/1.1 200 OK\r\nDate: D\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")


def test_a_write_destroyed_in_its_turn_sends_nothing(prefork_bytes):
    assert prefork_bytes["/a"] == b"", prefork_bytes
    assert prefork_bytes["/d"] == b"", prefork_bytes


def test_an_end_or_a_later_turn_sends_what_was_written(prefork_bytes):
    assert prefork_bytes["/b"] == HEAD + b"5\r\nhello\r\n3\r\nbye\r\n0\r\n\r\n", prefork_bytes
    assert prefork_bytes["/c"] == HEAD + b"5\r\nhello\r\n", prefork_bytes


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_same_bytes_as_node(prefork_bytes):
    run = subprocess.run([NODE, "-e", NODE_SERVER], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    node = {url: undated(data.encode("latin-1")) for url, data in json.loads(run.stdout).items()}
    assert node == prefork_bytes
