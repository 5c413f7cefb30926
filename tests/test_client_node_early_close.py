"""A server that answers ``Connection: close`` (a complete 413) while the request body
still goes out: as in Node 20, the response ends and closes, the socket goes on sending
what is queued and ends after it (Node's destroySoon), the peer's FIN notwithstanding;
a reset meanwhile is the request's ``error`` (ECONNRESET, or EPIPE after the peer's
FIN) before its ``close``, and a peer that reads the rest gets all of it (``finish``).
prefork closed the socket on the turn after the response's end: the rest of the body
was dropped without an error.

Node's client against the same raw server; once the response has closed the client
tells the server, on a second connection, to reset or to read the rest."""

import asyncio
import socket
import struct
import threading

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

BODY = 16 * 1024 * 1024  # more than loopback's buffers take: the write stays pending


@pytest.fixture
def server(request):
    how = request.param
    go = threading.Event()

    def handler(conn, index):
        head = read_head(conn)
        if head is None:
            return
        if head.startswith(b"GO"):
            go.set()
            return
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 5\r\n\r\nnope!")
        if how == "fin, then reset":
            conn.shutdown(socket.SHUT_WR)
        go.wait(5)
        go.clear()
        if how == "read the rest":
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(1 << 20):
                pass
        else:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    srv = RawServer(handler)
    yield srv
    go.set()
    srv.close()


NODE_EARLY_CLOSE = r"""
const port = %(port)d, size = %(size)d, wait = %(wait)d;
const req = http.request({host: '127.0.0.1', port, agent: false, method: 'POST', headers: {'Content-Length': size}});
if (wait) req.setTimeout(100, () => log('timeout'));
req.on('socket', (s) => s.on('close', () => { log('socket.close'); setImmediate(done); }));
req.on('error', (e) => log('error', e.code));
req.on('finish', () => log('finish'));
req.on('close', () => log('close'));
req.on('response', (res) => {
  log('response', res.statusCode);
  res.on('data', (d) => log('data', d.toString()));
  res.on('end', () => log('end'));
  res.on('close', () => { log('res.close'); setTimeout(() => net.connect(port, '127.0.0.1').end('GO\r\n\r\n'), wait); });
});
req.%(call)s('a'.repeat(size));
"""


def prefork_early_close(port, call, wait=0):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        log = events.append
        over = loop.create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False, "method": "POST",
                               "headers": {"Content-Length": BODY}})
        req.on("socket", lambda s: s.on("close", lambda *a: (log(["socket.close"]), over.set_result(None))))
        if wait:
            req.set_timeout(0.1, lambda: log(["timeout"]))
        req.on("error", lambda e: log(["error", e.code]))
        req.on("finish", lambda: log(["finish"]))
        req.on("close", lambda: log(["close"]))

        def res_closed():
            log(["res.close"])
            loop.call_later(wait / 1000, go)

        def go():
            signal = socket.create_connection(("127.0.0.1", port))
            signal.sendall(b"GO\r\n\r\n")
            signal.close()

        def on_response(res):
            log(["response", res.status_code])
            res.on("data", lambda d: log(["data", d.decode()]))
            res.on("end", lambda: log(["end"]))
            res.on("close", res_closed)
        req.on("response", on_response)
        getattr(req, call)(b"a" * BODY)
        await asyncio.wait_for(over, 5)
        for _ in range(3):
            await asyncio.sleep(0)
        return events
    return asyncio.run(main())


HEAD = [["response", 413], ["data", "nope!"], ["end"], ["res.close"]]


@pytest.mark.parametrize("server, call, tail", [
    ("reset", "end", [["error", "ECONNRESET"], ["close"], ["socket.close"]]),
    ("fin, then reset", "write", [["error", "EPIPE"], ["close"], ["socket.close"]]),
    ("read the rest", "end", [["finish"], ["close"], ["socket.close"]]),
], indirect=["server"])
def test_an_answer_that_closes_while_the_body_goes_out_gives_nodes_events(server, call, tail):
    theirs = node_events(NODE_EARLY_CLOSE % {"port": server.port, "size": BODY, "call": call, "wait": 0})
    assert theirs == HEAD + tail
    assert prefork_early_close(server.port, call) == theirs


@pytest.mark.parametrize("server", ["reset"], indirect=True)
def test_the_request_hears_no_timeout_once_its_response_has_ended_as_with_node(server):
    # the body stalls (the server reads none of it) for 0.5 s past the 0.1 s timeout: Node's
    # responseOnEnd stops the request's listening to its socket's timeout
    theirs = node_events(NODE_EARLY_CLOSE % {"port": server.port, "size": BODY, "call": "end", "wait": 500})
    assert theirs == HEAD + [["error", "ECONNRESET"], ["close"], ["socket.close"]]
    assert prefork_early_close(server.port, "end", wait=500) == theirs
