"""A client request's socket fails (a refused connect, a reset in the middle of the
response body): an ``error`` listener the application added on the socket (at the
request's ``socket``) hears it after the request's ``error`` and before its ``close``,
as Node 20's socket tells its listeners. prefork told the request only: the socket's
own listeners never heard of it.

Node's client against the same raw server (and the same closed port)."""

import asyncio
import socket
import struct

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


@pytest.fixture
def server():
    def handler(conn, index):
        if read_head(conn) is None:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        read_head(conn)  # until the client says it has the first bytes (its next bytes) or goes
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    srv = RawServer(handler)
    yield srv
    srv.close()


def closed_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


NODE_SOCKET_ERROR = r"""
const req = http.get({host: '127.0.0.1', port: %(port)d, agent: false});
req.on('socket', (s) => {
  s.on('error', (e) => log('socket error', e.code));
  s.on('close', () => { log('socket close'); setImmediate(done); });
});
req.on('error', (e) => log('error', e.code));
req.on('close', () => log('close'));
req.on('response', (res) => {
  res.on('data', (d) => { log('data', d.toString()); req.socket.write('GO\r\n\r\n'); });
  res.on('error', (e) => log('res error', e.code));
});
"""


def prefork_socket_error(port):
    async def main():
        events = []
        log = events.append
        over = asyncio.get_running_loop().create_future()
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})

        def on_socket(s):
            s.on("error", lambda e: log(["socket error", e.code]))
            s.on("close", lambda *a: (log(["socket close"]), over.set_result(None)))
        req.on("socket", on_socket)
        req.on("error", lambda e: log(["error", e.code]))
        req.on("close", lambda: log(["close"]))

        def on_response(res):
            res.on("data", lambda d: (log(["data", d.decode()]), req.socket.write(b"GO\r\n\r\n")))
            res.on("error", lambda e: log(["res error", e.code]))
        req.on("response", on_response)
        await asyncio.wait_for(over, 5)
        for _ in range(3):
            await asyncio.sleep(0)
        return events
    return asyncio.run(main())


def test_a_refused_connect_reaches_the_sockets_error_listeners_as_with_node():
    port = closed_port()
    theirs = node_events(NODE_SOCKET_ERROR % {"port": port})
    assert theirs == [["error", "ECONNREFUSED"], ["socket error", "ECONNREFUSED"], ["close"], ["socket close"]]
    assert prefork_socket_error(port) == theirs


def test_a_reset_in_the_body_reaches_the_sockets_error_listeners_as_with_node(server):
    theirs = node_events(NODE_SOCKET_ERROR % {"port": server.port})
    assert ["socket error", "ECONNRESET"] in theirs
    ours = prefork_socket_error(server.port)
    assert ours[:3] == theirs[:3] == [["data", "ok"], ["error", "ECONNRESET"], ["socket error", "ECONNRESET"]]
    assert ours == theirs
