"""Header values on a client request as Node's ``http.request`` writes them: a ``bytes``
value (or item of a list) is its text, checked for CR/LF as text; a ``Cookie`` list of
two or more values is one line joined with "; ". Each head is compared with the one
Node's client sends to the same raw server. (Beyond ASCII, Node reads a Buffer as UTF-8
and refuses or truncates what it finds; prefork sends the bytes as given, latin-1 being
the bytes of the wire.)"""

import asyncio
import subprocess
import threading

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head

NODE_CLIENT = r"""
const http = require('http');
const req = http.request({host: '127.0.0.1', port: +process.argv[1], agent: false, path: '/'}, (res) => {
  res.resume(); res.on('end', () => console.log('done'));
});
req.setHeader('X-Bytes', Buffer.from('abc'));
req.setHeader('X-List', [Buffer.from('one'), 'two']);
req.setHeader('Cookie', ['a=1', 'b=2']);
req.appendHeader('X-More', Buffer.from('m'));
req.end();
"""


class Heads:
    """A raw server that keeps each request head it reads and answers 200."""

    def __init__(self):
        self.heads = []
        self.done = threading.Event()
        self.server = RawServer(self.answer)

    def answer(self, conn, index):
        head = read_head(conn)
        self.heads.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.done.set()


def fields(head):
    """The head's field lines other than Host and Connection, in order."""
    lines = head.split(b"\r\n")[1:]
    return [line for line in lines if line and not line.lower().startswith((b"host:", b"connection:"))]


def prefork_head(port):
    async def main():
        done = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False, "path": "/"},
                              lambda res: (res.resume(), res.on("end", lambda: done.set_result(None))))
        req.set_header("X-Bytes", b"abc")
        req.set_header("X-List", [b"one", "two"])
        req.set_header("Cookie", ["a=1", "b=2"])
        req.append_header("X-More", b"m")
        req.end()
        await asyncio.wait_for(done, 10)
    asyncio.run(main())


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_bytes_values_and_cookie_lists_go_out_as_node_sends_them():
    ours, theirs = Heads(), Heads()
    try:
        prefork_head(ours.server.port)
        assert ours.done.wait(10)
        out = subprocess.run([NODE, "-e", NODE_CLIENT, "--", str(theirs.server.port)], capture_output=True,
                             timeout=30, text=True)
        assert out.stdout.strip() == "done", out.stderr
        assert theirs.done.wait(10)
    finally:
        ours.server.close()
        theirs.server.close()
    assert fields(ours.heads[0]) == fields(theirs.heads[0])
    assert b"X-Bytes: abc" in fields(ours.heads[0])
    assert b"Cookie: a=1; b=2" in fields(ours.heads[0])


def test_a_bytes_value_beyond_ascii_goes_out_as_its_bytes():
    srv = Heads()
    try:
        async def main():
            done = asyncio.get_running_loop().create_future()
            req = prefork.request({"host": "127.0.0.1", "port": srv.server.port, "agent": False},
                                  lambda res: (res.resume(), res.on("end", lambda: done.set_result(None))))
            req.set_header("X-Latin", b"caf\xe9")
            req.end()
            await asyncio.wait_for(done, 10)
        asyncio.run(main())
    finally:
        srv.server.close()
    assert b"X-Latin: caf\xe9" in fields(srv.heads[0])


@pytest.mark.parametrize("value", [b"a\r\nX-Injected: 1", [b"ok", b"a\nb"]])
def test_a_bytes_value_with_a_line_break_is_refused(value):
    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": 9, "agent": False})
        try:
            with pytest.raises(ValueError) as info:
                req.set_header("X-Bad", value)
            assert info.value.code == "ERR_INVALID_CHAR"
            with pytest.raises(ValueError):
                req.append_header("X-Bad", value)
        finally:
            req.destroy()
    asyncio.run(main())
