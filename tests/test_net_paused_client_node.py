"""A client socket (``Socket.connect``) paused once connected, whose peer then leaves,
compared with the same program on Node v20 (``net.connect``): a reset is ``error``
and ``close`` while still paused, a FIN with nothing kept ``end`` and, the socket not
half-open, ``close``."""

import asyncio
import socket
import struct
import threading

import pytest

from harness import node_events, run_loop
from prefork.net import Socket

NODE_SCRIPT = r"""
const how = %r;
const srv = net.createServer((s) => {
  s.on('error', () => {});
  s.once('data', () => {
    if (how === 'fin_empty') s.end(); else s.resetAndDestroy();
  });
});
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => { c.pause(); c.write('go'); });
  let got = 0;
  c.on('data', (d) => { got += d.length; });
  c.on('end', () => log('end', got));
  c.on('error', (e) => log('error', e.code, got));
  c.on('close', (h) => { log('close', h, got); srv.close(); done(); });
});
"""


def peer(listener, how):
    conn, _ = listener.accept()
    conn.settimeout(5)
    try:
        conn.recv(16)
        if how == "fin_empty":
            conn.shutdown(socket.SHUT_WR)
            conn.recv(16)  # until the client's FIN
        else:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    finally:
        conn.close()


def prefork_events(how):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)
    thread = threading.Thread(target=peer, args=(listener, how))
    thread.start()
    loop = asyncio.new_event_loop()
    events = []
    got = [0]
    try:
        client = Socket.connect(loop, "127.0.0.1", listener.getsockname()[1])

        def connected():
            client.pause()
            client.write(b"go")

        def on_data(data):
            got[0] += len(data)

        def on_close(had_error=False):
            events.append(["close", had_error, got[0]])
            loop.stop()
        client.on("connect", connected)
        client.on("data", on_data)
        client.on("end", lambda: events.append(["end", got[0]]))
        client.on("error", lambda e: events.append(["error", e.code, got[0]]))
        client.on("close", on_close)
        run_loop(loop, 5)
    finally:
        thread.join(5)
        listener.close()
        loop.close()
    return events


@pytest.mark.parametrize("how", ["fin_empty", "rst_empty"])
def test_a_paused_client_socket_sees_its_peer_leave_as_nodes_does(how):
    expected = node_events(NODE_SCRIPT % how)
    assert prefork_events(how) == expected
