"""A request awaited (``res = await req``) whose ``signal`` aborts while its body is read
(``await res.read()``, ``async for``): the read raises ECONNRESET with Node's message
"aborted" (as Node's ``for await`` over the response throws), and the request's
AbortError, with no ``error`` listener left once the awaiter had its response, is not
logged as an unhandled ``error``; a listener the application added still gets it.
Compared with Node's client against the same raw server."""

import asyncio
import json
import logging
import subprocess

import prefork
from harness import need_node
from prefork.client import AbortController, Agent
from test_hostile_client import RawServer, read_head

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
(async () => {
  const ac = new AbortController();
  const req = http.request({port, host: '127.0.0.1', path: '/', signal: ac.signal});
  const seen = [];
  req.on('error', (e) => seen.push(['req error', e.code]));
  req.end();
  const res = await new Promise((r) => req.once('response', r));
  setTimeout(() => ac.abort(), 50);
  try { for await (const c of res); seen.push(['done']); }
  catch (e) { seen.push(['read', e.code, e.message, String(e)]); }
  console.log(JSON.stringify(seen));
  process.exit(0);
})();
"""


def partial(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        while conn.recv(65536):
            pass


def prefork_run(port, listen):
    seen = []
    agent = Agent(keep_alive=True)

    async def main():
        ac = AbortController()
        req = prefork.request({"port": port, "host": "127.0.0.1", "path": "/", "agent": agent,
                               "signal": ac.signal})
        if listen:
            req.on("error", lambda err: seen.append(["req error", err.code]))
        answer = req.response()
        req.end()
        res = await asyncio.wait_for(answer, 5)
        asyncio.get_running_loop().call_later(0.05, ac.abort)
        try:
            await asyncio.wait_for(res.read(), 5)
            seen.append(["done"])
        except ConnectionResetError as err:
            seen.append(["read", err.code, err.message, str(err)])
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None)) if not req.destroyed else closed.set_result(None)
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0)  # (an error still due: emitted before the close, now gone)
    try:
        asyncio.run(main())
    finally:
        agent.destroy()
    return seen


def test_an_abort_during_an_awaited_read_raises_aborted_and_logs_nothing(caplog):
    node = need_node()
    srv = RawServer(partial)
    try:
        got = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port)], capture_output=True, timeout=30,
                             text=True)
        with caplog.at_level(logging.ERROR):
            quiet = prefork_run(srv.port, listen=False)
            heard = prefork_run(srv.port, listen=True)
    finally:
        srv.close()
    node_seen = json.loads(got.stdout)
    read = [row for row in node_seen if row[0] == "read"]
    assert read == [["read", "ECONNRESET", "aborted", "Error: aborted"]], got.stderr
    assert quiet == [["read", "ECONNRESET", "aborted", "aborted"]]
    assert sorted(heard) == sorted([["req error", "ABORT_ERR"], ["read", "ECONNRESET", "aborted", "aborted"]])
    assert sorted(row[:2] for row in node_seen) == sorted(row[:2] for row in heard)
    assert not [r for r in caplog.records if "unhandled" in r.getMessage()], caplog.text
