"""A client request whose ``socket`` listener ends the socket while it still connects
sends nothing: the request's bytes (written before the socket came, or by ``end()``
inside the listener) stay kept, only the FIN goes, and the request fails with
ECONNRESET "socket hang up" and no ``finish``, as Node v20's (the server sees an empty
stream). The same program runs on Node against the same raw server."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer

NODE_SCRIPT = r"""
const port = %d, endInListener = %s;
const req = http.request({host: '127.0.0.1', port, agent: false});
req.on('socket', (s) => { log('socket', s.connecting); s.end(); if (endInListener) req.end(); });
req.on('finish', () => log('finish'));
req.on('response', () => log('response'));
req.on('error', (e) => log('error', e.code, e.message));
req.on('close', () => { log('close'); done(); });
if (!endInListener) req.end();
"""


def serve(received):
    def handler(conn, index):
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        received.append(data)
    return RawServer(handler)


def prefork_events(port, end_in_listener):
    events = []

    async def main():
        closed = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})

        def on_socket(s):
            events.append(["socket", s.connecting])
            s.end()
            if end_in_listener:
                req.end()
        req.on("socket", on_socket)
        req.on("finish", lambda: events.append(["finish"]))
        req.on("response", lambda res: events.append(["response"]))
        req.on("error", lambda e: events.append(["error", e.code, str(e)]))
        req.on("close", lambda: (events.append(["close"]), closed.set_result(None)))
        if not end_in_listener:
            req.end()
        await asyncio.wait_for(closed, 5)
    asyncio.run(main())
    return events


@pytest.mark.parametrize("end_in_listener", [False, True], ids=["ended-before", "ended-in-listener"])
def test_a_socket_ended_while_connecting_sends_nothing_and_hangs_up(end_in_listener):
    received = []
    server = serve(received)
    try:
        expected = node_events(NODE_SCRIPT % (server.port, "true" if end_in_listener else "false"))
        assert expected == [["socket", True], ["error", "ECONNRESET", "socket hang up"], ["close"]]
        assert prefork_events(server.port, end_in_listener) == expected
    finally:
        server.close()
    assert received == [b"", b""]  # Node's connection, then prefork's: a FIN alone each time
