"""A socket that goes idle while a response body is coming: ``timeout`` on the request,
then on the response (Node's responseOnTimeout), so an application that watches the
response for a stalled download sees it; ``res.set_timeout`` arms it from the response."""

import asyncio
import json
import subprocess

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head

NODE_STALL = r"""
const http = require('http');
const [port, how] = [+process.argv[1], process.argv[2]];
const ev = [];
const req = http.get({host: '127.0.0.1', port, agent: false});
if (how === 'request') req.setTimeout(200, () => ev.push('req timeout'));
req.on('error', (e) => ev.push('error ' + e.code));
req.on('response', (res) => {
  if (how === 'response') res.setTimeout(200, () => ev.push('res timeout callback'));
  res.on('timeout', () => { ev.push('res timeout'); req.destroy(); });
  res.on('data', (d) => ev.push('data ' + d));
  res.on('aborted', () => ev.push('aborted'));
  res.on('close', () => { ev.push('res close'); setTimeout(() => console.log(JSON.stringify(ev)), 50); });
});
"""


def stalling(conn, index):
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
    while conn.recv(65536):  # then nothing more, until the client goes
        pass


def prefork_stall(port, how):
    async def main():
        events = []
        closed = asyncio.get_running_loop().create_future()
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})
        if how == "request":
            req.set_timeout(0.2, lambda: events.append("req timeout"))
        req.on("error", lambda e: events.append("error " + e.code))

        def on_response(res):
            if how == "response":
                res.set_timeout(0.2, lambda: events.append("res timeout callback"))
            res.on("timeout", lambda: (events.append("res timeout"), req.destroy()))
            res.on("data", lambda d: events.append("data " + d.decode()))
            res.on("aborted", lambda: events.append("aborted"))
            res.on("close", lambda: (events.append("res close"), closed.set_result(None)))
        req.on("response", on_response)
        await asyncio.wait_for(closed, 5)  # a timeout that never comes fails here
        await asyncio.sleep(0.05)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("how", ["request", "response"], ids=["req.set_timeout", "res.set_timeout"])
def test_an_idle_socket_mid_body_times_the_response_out_as_with_node(how):
    srv = RawServer(stalling)
    try:
        ours = prefork_stall(srv.port, how)
    finally:
        srv.close()
    first = ["req timeout"] if how == "request" else ["res timeout callback"]
    assert ours == ["data hel"] + first + ["res timeout", "aborted", "res close"]
    if NODE is not None:
        srv = RawServer(stalling)
        try:
            out = subprocess.run([NODE, "-e", NODE_STALL, str(srv.port), how], capture_output=True, text=True,
                                 timeout=30)
        finally:
            srv.close()
        assert json.loads(out.stdout) == ours
