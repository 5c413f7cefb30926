"""``set_timeout`` on a request (or its response) whose response has ended does
nothing, as in Node: its kept-alive socket may serve the agent's next request by then,
which got that request's idle timeout (a ``timeout`` in the middle of its slow answer).
The next request's answer takes 0.3 s; the timeout asked for is 0.1 s, so it would
come first."""

import asyncio
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        if b"/slow" in head.split(b"\r\n", 1)[0]:
            time.sleep(0.3)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


NODE_LATE = r"""
const port = %d;
const agent = new http.Agent({keepAlive: true});
const a = http.get({host: '127.0.0.1', port, agent, path: '/a'}, (res) => { res.resume(); res.on('end', () => log('a end')); });
a.on('timeout', () => log('a timeout'));
a.on('close', () => {
  log('a close');
  setTimeout(() => {
    const b = http.get({host: '127.0.0.1', port, agent, path: '/slow'}, (res) => {
      res.resume(); res.on('end', () => { log('b end', b.reusedSocket); agent.destroy(); done(); });
    });
    b.on('socket', () => setTimeout(() => a.setTimeout(100, () => log('a callback')), 10));
    b.on('timeout', () => log('b timeout'));
    b.on('error', (e) => log('b error', e.code));
  }, 20);
});
"""


def prefork_late(port, which):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        finished = loop.create_future()
        agent = prefork.Agent()
        a = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent, "path": "/a"},
                        lambda res: (res.resume(), res.on("end", lambda: events.append(["a end"]))))
        a.on("timeout", lambda: events.append(["a timeout"]))

        def late_timeout():
            target = a if which == "request" else a.res
            target.set_timeout(0.1, lambda: events.append(["a callback"]))

        def second():
            def on_response(res):
                res.resume()
                res.on("end", lambda: (events.append(["b end", b.reused_socket]), finished.set_result(None)))
            b = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent, "path": "/slow"}, on_response)
            b.on("socket", lambda s: loop.call_later(0.01, late_timeout))
            b.on("timeout", lambda: events.append(["b timeout"]))
            b.on("error", lambda e: events.append(["b error", e.code]))
        a.on("close", lambda: (events.append(["a close"]), loop.call_later(0.02, second)))
        await asyncio.wait_for(finished, 4)
        agent.destroy()
        return events
    return asyncio.run(main())


EXPECTED = [["a end"], ["a close"], ["b end", True]]


def test_a_request_timeout_set_after_its_response_is_a_no_op_as_in_node(server):
    assert node_events(NODE_LATE % server.port) == EXPECTED
    assert prefork_late(server.port, "request") == EXPECTED


def test_a_response_timeout_set_after_its_end_leaves_the_socket_alone(server):
    # (Node's response has let go of its socket by then: its setTimeout throws a TypeError)
    assert prefork_late(server.port, "response") == EXPECTED
