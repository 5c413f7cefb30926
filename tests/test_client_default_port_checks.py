"""A ``default_port`` (the option) used as a request's port is checked as a port is, as
Node's: a string of a number connects to that port (and, being no number, is written
into Host, as Node's strict ``!==`` does); one that is no port ("abc", -1, 70000, a
fraction) raises ERR_SOCKET_BAD_PORT at once rather than failing inside the connect with
a TypeError or OverflowError. Compared with Node's client against the same raw server."""

import asyncio
import json
import subprocess

import prefork
from harness import need_node
from test_hostile_client import RawServer, read_head

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const out = [];
const cases = [['str', String(port)], ['bad', 'abc'], ['neg', -1], ['big', 70000], ['float', port + 0.5],
               ['int', port]];
(async () => { for (const [name, dp] of cases) await new Promise((resolve) => {
  let r;
  try { r = http.request({host: '127.0.0.1', path: '/', defaultPort: dp, agent: false}); }
  catch (e) { out.push([name, 'throw', e.code]); return resolve(); }
  r.on('response', (res) => { let b = ''; res.on('data', (d) => b += d);
    res.on('end', () => { out.push([name, b.split('\r\n').filter((l) => /^host/i.test(l))]); resolve(); }); });
  r.on('error', (e) => { out.push([name, 'error', e.code]); resolve(); });
  r.end();
}); console.log(JSON.stringify(out)); })();
"""


def echo_head(conn, index):
    head = read_head(conn)
    if head:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(head), head))


def prefork_log(port):
    cases = [("str", str(port)), ("bad", "abc"), ("neg", -1), ("big", 70000), ("float", port + 0.5),
             ("int", port)]
    out = []

    async def main():
        for name, default in cases:
            try:
                req = prefork.request({"host": "127.0.0.1", "path": "/", "default_port": default, "agent": False})
            except Exception as err:
                out.append([name, "throw", getattr(err, "code", repr(err))])
                continue
            answer = req.response()
            req.end()
            try:
                res = await asyncio.wait_for(answer, 5)
                body = (await asyncio.wait_for(res.read(), 5)).decode()
                out.append([name, [line for line in body.split("\r\n") if line.lower().startswith("host")]])
            except Exception as err:
                out.append([name, "error", getattr(err, "code", repr(err))])
    asyncio.run(main())
    return out


def test_a_default_port_is_checked_as_a_port_as_nodes():
    node = need_node()
    srv = RawServer(echo_head)
    try:
        got = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port)], capture_output=True, timeout=30,
                             text=True)
        ours = prefork_log(srv.port)
    finally:
        srv.close()
    assert ours == json.loads(got.stdout), got.stderr
    assert ours[0] == ["str", [f"Host: 127.0.0.1:{srv.port}"]] and ours[-1] == ["int", ["Host: 127.0.0.1"]]
    assert [row[1:] for row in ours[1:5]] == [["throw", "ERR_SOCKET_BAD_PORT"]] * 4
