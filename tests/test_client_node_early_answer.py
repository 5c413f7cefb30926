"""A server that answers (kept alive) before the request body is in, never reads the
body, and then resets the connection: the socket is still the request's (its body has
not gone out), so, as in Node, the request gets ``error`` (ECONNRESET) after the
response's end, the callback of the write the reset cut short still runs, and then the
request closes. Node's client against the same raw server; the client tells the server
when to reset on a second connection."""

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
def server():
    reset = threading.Event()

    def handler(conn, index):
        head = read_head(conn)
        if head is None:
            return
        if head.startswith(b"RESET"):
            reset.set()
            return
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig")
        reset.wait(5)
        reset.clear()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    srv = RawServer(handler)
    yield srv
    reset.set()
    srv.close()


NODE_EARLY = r"""
const port = %(port)d, size = %(size)d;
const agent = new http.Agent({keepAlive: true});
const req = http.request({host: '127.0.0.1', port, agent, method: 'POST', headers: {'Content-Length': size + 1}});
req.on('socket', (s) => s.on('close', () => { log('socket.close'); agent.destroy(); setImmediate(done); }));
req.on('error', (e) => log('error', e.code));
req.on('finish', () => log('finish'));
req.on('close', () => log('close'));
req.on('response', (res) => {
  log('response', res.statusCode);
  res.on('data', (d) => log('data', d.toString()));
  res.on('end', () => log('end'));
  res.on('close', () => {
    log('res.close');
    req.end('!', () => log('end callback'));
    net.connect(port, '127.0.0.1').end('RESET\r\n\r\n');
  });
});
req.write('a'.repeat(size), () => log('write callback'));
"""


def prefork_early(port):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        log = events.append
        over = loop.create_future()
        agent = prefork.Agent(keep_alive=True)
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent, "method": "POST",
                               "headers": {"Content-Length": BODY + 1}})

        def on_socket(s):
            s.on("close", lambda *a: (log(["socket.close"]), over.done() or over.set_result(None)))
        req.on("socket", on_socket)
        req.on("error", lambda e: log(["error", e.code]))
        req.on("finish", lambda: log(["finish"]))
        req.on("close", lambda: log(["close"]))

        def res_closed():
            log(["res.close"])
            req.end(b"!", lambda *a: log(["end callback"]))
            signal = socket.create_connection(("127.0.0.1", port))
            signal.sendall(b"RESET\r\n\r\n")
            signal.close()

        def on_response(res):
            log(["response", res.status_code])
            res.on("data", lambda d: log(["data", d.decode()]))
            res.on("end", lambda: log(["end"]))
            res.on("close", res_closed)
        req.on("response", on_response)
        req.write(b"a" * BODY, lambda *a: log(["write callback"]))
        await asyncio.wait_for(over, 4)
        for _ in range(3):
            await asyncio.sleep(0)
        agent.destroy()
        return events
    return asyncio.run(main())


def test_a_reset_while_the_body_goes_out_after_an_early_answer_gives_nodes_events(server):
    ours = prefork_early(server.port)
    theirs = node_events(NODE_EARLY % {"port": server.port, "size": BODY})
    assert ["error", "ECONNRESET"] in theirs and ["write callback"] in theirs
    assert ours == theirs
