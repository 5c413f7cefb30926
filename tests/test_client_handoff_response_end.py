"""The response handed to an ``upgrade`` or ``connect`` listener ends at its head, as
Node's parser completes it: after the request's ``close``, its ``end`` (once read) and
its ``close``; ``await res.read()`` gives ``b""`` and ``async for`` stops. The socket
stays the listener's (the tunnel's bytes reach it). Before, that response never ended
nor closed: ``await req`` gave it, and a ``read()`` or ``async for`` on it waited for
ever."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

ANSWERS = {
    "upgrade": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nhead",
                {"headers": {"Connection": "Upgrade", "Upgrade": "foo"}}),
    "connect": (b"HTTP/1.1 200 Connection established\r\n\r\nhead", {"method": "CONNECT", "path": "example.com:443"}),
}


def serve(answer):
    def handler(conn, index):
        if read_head(conn):
            conn.sendall(answer)
            if conn.recv(100) == b"ping":  # the tunnel: the listener's socket speaks on
                conn.sendall(b"pong")
            while conn.recv(65536):
                pass
    return RawServer(handler)


NODE_ORDER = r"""
const event = '%(event)s';
const req = http.request({host: '127.0.0.1', port: %(port)d, agent: false, method: '%(method)s', headers: %(headers)s});
req.on(event, (res, socket, head) => {
  log(event, head.toString());
  res.on('data', (d) => log('res.data', d.toString()));
  res.on('end', () => log('res.end'));
  res.on('close', () => { log('res.close'); socket.destroy(); setTimeout(done, 50); });
});
req.on('close', () => log('close'));
req.end();
"""


def prefork_order(port, event, options):
    async def main():
        events = []
        over = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False, **options})

        def taken(res, socket, head):
            events.append([event, head.decode()])
            res.on("data", lambda d: events.append(["res.data", d.decode()]))
            res.on("end", lambda: events.append(["res.end"]))
            res.on("close", lambda: (events.append(["res.close"]), socket.destroy(), over.set_result(None)))
        req.on(event, taken)
        req.on("close", lambda: events.append(["close"]))
        req.end()
        await asyncio.wait_for(over, 5)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("event", list(ANSWERS))
def test_the_handed_over_response_ends_and_closes_as_in_node(event):
    answer, options = ANSWERS[event]
    server = serve(answer)
    try:
        ours = prefork_order(server.port, event, options)
        expected = [[event, "head"], ["close"], ["res.end"], ["res.close"]]
        assert ours == expected
        node = node_events(NODE_ORDER % {
            "event": event, "port": server.port, "method": options.get("method", "GET"),
            "headers": '{"Connection": "Upgrade", "Upgrade": "foo"}' if event == "upgrade" else "{}"})
        assert node == expected
    finally:
        server.close()


@pytest.mark.parametrize("how", ["read", "async for"])
@pytest.mark.parametrize("event", list(ANSWERS))
def test_an_awaited_handed_over_response_reads_empty_and_its_socket_is_the_listeners(event, how):
    answer, options = ANSWERS[event]
    server = serve(answer)

    async def main():
        loop = asyncio.get_running_loop()
        pong = loop.create_future()
        sockets = []

        def taken(res, socket, head):
            sockets.append(socket)
            socket.on("data", lambda data: pong.done() or pong.set_result(data))
            socket.write(b"ping")
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False, **options})
        req.on(event, taken)
        req.end()
        res = await asyncio.wait_for(req, 5)
        if how == "read":
            body = await asyncio.wait_for(res.read(), 5)
        else:
            async def chunks():
                return b"".join([chunk async for chunk in res])
            body = await asyncio.wait_for(chunks(), 5)
        got = await asyncio.wait_for(pong, 5)
        state = (res.readable_ended, sockets[0].destroyed)
        sockets[0].destroy()
        return body, got, state
    try:
        assert asyncio.run(main()) == (b"", b"pong", (True, False))
    finally:
        server.close()
