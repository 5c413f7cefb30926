"""A timeout the request did not ask for (``res.set_timeout`` alone, or the socket's own
``set_timeout``) gives the response's (or the socket's) ``timeout`` at each idle
period, and no ``timeout`` on the request, as Node's request hears its socket's idle
timeout only after ``req.setTimeout``, a ``timeout`` option or an agent's ``timeout``.
Node's client against the same raw server, which pauses twice inside the body."""

import asyncio
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    head = read_head(conn)
    if not head:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
    time.sleep(0.45)  # an idle period of the server's making: two of the client's 0.2 s
    conn.sendall(b"wor")
    time.sleep(0.45)
    conn.sendall(b"ld")


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


NODE_TIMEOUTS = r"""
const port = %(port)d, how = '%(how)s';
const req = http.request({host: '127.0.0.1', port, agent: false});
req.on('socket', (s) => {
  if (how === 'socket') { s.setTimeout(200); s.on('timeout', () => log('socket.timeout')); }
});
req.on('timeout', () => log('timeout'));
req.on('close', () => { log('close'); setImmediate(done); });
req.on('response', (res) => {
  log('response');
  if (how === 'response') {
    res.setTimeout(200, () => log('res.callback'));
    res.on('timeout', () => log('res.timeout'));
  }
  res.on('data', (d) => log('data', d.toString()));
  res.on('end', () => log('end'));
});
req.end();
"""


def prefork_timeouts(port, how):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        closed = loop.create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})

        def on_socket(s):
            if how == "socket":
                s.set_timeout(0.2)
                s.on("timeout", lambda: events.append(["socket.timeout"]))
        req.on("socket", on_socket)
        req.on("timeout", lambda: events.append(["timeout"]))

        def on_close():
            events.append(["close"])
            loop.call_soon(closed.set_result, None)
        req.on("close", on_close)

        def on_response(res):
            events.append(["response"])
            if how == "response":
                res.set_timeout(0.2, lambda: events.append(["res.callback"]))
                res.on("timeout", lambda: events.append(["res.timeout"]))
            res.on("data", lambda d: events.append(["data", d.decode()]))
            res.on("end", lambda: events.append(["end"]))
        req.on("response", on_response)
        req.end()
        await asyncio.wait_for(closed, 5)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("how", ["response", "socket"])
def test_a_timeout_the_request_did_not_ask_for_gives_it_no_timeout_event(server, how):
    theirs = node_events(NODE_TIMEOUTS % {"port": server.port, "how": how})
    assert ["timeout"] not in theirs and ["end"] in theirs
    assert prefork_timeouts(server.port, how) == theirs
