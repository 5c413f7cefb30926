"""``destroy()`` on a request (or response) whose exchange is over, as a clean-up after
reading does: the kept-alive socket, which the agent may already have given to another
request, is left alone (Node marks the request destroyed when it frees the socket)."""

import asyncio
import json
import subprocess

import pytest

import prefork
from harness import NODE
from prefork.http.errors import HTTPError
from test_hostile_client import RawServer, read_head

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


@pytest.fixture
def keep_alive_server():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(OK)
    srv = RawServer(handler)
    yield srv
    srv.close()


NODE_DESTROY_AT_END = r"""
const http = require('http');
const [port, which, maxSockets] = [+process.argv[1], process.argv[2], +process.argv[3] || Infinity];
const agent = new http.Agent({keepAlive: true, maxSockets});
const ev = [];
function make(name, after) {
  const req = http.get({host: '127.0.0.1', port, agent, path: '/' + name});
  req.on('socket', () => ev.push([name, 'socket', req.reusedSocket]));
  req.on('error', (e) => ev.push([name, 'error', e.code]));
  req.on('close', () => ev.push([name, 'close']));
  req.on('response', (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => { ev.push([name, 'end', body]); if (which === 'req') req.destroy(); else res.destroy(); if (after) after(); });
    res.on('close', () => ev.push([name, 'res.close']));
  });
}
make('a', () => setTimeout(() => make('b', () => setTimeout(() => { agent.destroy(); console.log(JSON.stringify(ev)); }, 100)), 50));
"""


def prefork_destroy_at_end(port, which, max_sockets):
    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(max_sockets=max_sockets)
        events = []
        done = loop.create_future()

        def make(name, after):
            req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent, "path": "/" + name})
            req.on("socket", lambda s: events.append([name, "socket", req.reused_socket]))
            req.on("error", lambda e: events.append([name, "error", e.code]))
            req.on("close", lambda: events.append([name, "close"]))

            def on_response(res):
                body = []
                res.on("data", body.append)

                def on_end():
                    events.append([name, "end", b"".join(body).decode()])
                    req.destroy() if which == "req" else res.destroy()
                    after()
                res.on("end", on_end)
                res.on("close", lambda: events.append([name, "res.close"]))
            req.on("response", on_response)
        make("a", lambda: loop.call_later(0.05, make, "b", lambda: loop.call_later(0.1, done.set_result, None)))
        await asyncio.wait_for(done, 10)
        agent.destroy()
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("max_sockets", [None, 1], ids=["no socket limit", "one socket"])
@pytest.mark.parametrize("which", ["req", "res"])
def test_a_destroy_in_the_end_listener_keeps_the_socket_as_with_node(keep_alive_server, which, max_sockets):
    ours = prefork_destroy_at_end(keep_alive_server.port, which, max_sockets)
    assert ours == [["a", "socket", False], ["a", "end", "hello"], ["a", "close"], ["a", "res.close"],
                    ["b", "socket", True], ["b", "end", "hello"], ["b", "close"], ["b", "res.close"]]
    assert keep_alive_server.accepted == 1
    if NODE is not None:
        node_srv = RawServer(keep_alive_server.handler)
        try:
            out = subprocess.run([NODE, "-e", NODE_DESTROY_AT_END, str(node_srv.port), which, str(max_sockets or 0)],
                                 capture_output=True, text=True, timeout=30)
        finally:
            node_srv.close()
        assert json.loads(out.stdout) == ours
        assert node_srv.accepted == 1


@pytest.mark.parametrize("which", ["req", "res"])
def test_a_clean_up_destroy_after_reading_does_not_break_the_next_request(keep_alive_server, which):
    """The next request in line took the socket while the first one's reader was
    resuming; the first one's clean-up ``destroy()`` must not reset it."""
    async def main():
        agent = prefork.Agent(max_sockets=1)
        first = prefork.get({"host": "127.0.0.1", "port": keep_alive_server.port, "agent": agent, "path": "/a"})
        second = prefork.get({"host": "127.0.0.1", "port": keep_alive_server.port, "agent": agent, "path": "/b"})
        try:
            res = await asyncio.wait_for(first, 10)
            body = await asyncio.wait_for(res.read(), 10)
            for _ in range(3):
                await asyncio.sleep(0)  # the socket goes to the second request meanwhile
        finally:
            first.destroy() if which == "req" else res.destroy()
        try:
            res2 = await asyncio.wait_for(second, 10)
            second_body = await asyncio.wait_for(res2.read(), 10)
        except HTTPError as err:
            second_body = err.code
        agent.destroy()
        return body, second_body
    assert asyncio.run(main()) == (b"hello", b"hello")
    assert keep_alive_server.accepted == 1
