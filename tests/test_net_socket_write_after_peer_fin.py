"""A ``net.Socket`` that the peer's FIN ended (``allow_half_open`` false, a client's
default) refuses every later write with EPIPE ("This socket has been ended by the other
party"), after its close too, as Node's (its ``writeAfterFIN`` stays the socket's
``write``); no ``error`` comes once it is closed. (After the close the callback got
ERR_STREAM_DESTROYED.) The same program runs on Node against the same raw peer."""

import asyncio
import socket

from harness import node_events
from prefork.net import Socket
from test_hostile_client import RawServer

NODE_SCRIPT = r"""
const s = net.connect(%d, '127.0.0.1');
s.on('end', () => log('end'));
s.on('error', (e) => log('error', e.code));
s.on('close', (hadError) => {
  log('close', hadError);
  log('write', s.write('x', (err) => { log('callback', err.code, err.message); done(); }));
});
"""


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        over = loop.create_future()
        s = Socket.connect(loop, "127.0.0.1", port)
        s.on("end", lambda: events.append(["end"]))
        s.on("error", lambda e: events.append(["error", e.code]))

        def on_close(had_error):
            events.append(["close", had_error])
            events.append(["write", s.write(b"x", lambda err: (events.append(["callback", err.code, str(err)]),
                                                                over.set_result(None)))])
        s.on("close", on_close)
        await asyncio.wait_for(over, 5)
        await asyncio.sleep(0)  # (an error after the callback would show here)
    asyncio.run(main())
    return events


def test_a_write_after_the_peers_fin_closed_the_socket_gets_epipe():
    def handler(conn, index):
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    server = RawServer(handler)
    try:
        expected = node_events(NODE_SCRIPT % server.port)
        assert expected == [["end"], ["close", False], ["write", False],
                            ["callback", "EPIPE", "This socket has been ended by the other party"]]
        assert prefork_events(server.port) == expected
    finally:
        server.close()
