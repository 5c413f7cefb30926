"""A request whose ``write()`` said False and which is then ended gets no ``drain``, as
Node's client (its ``socketOnDrain`` checks ``msg.finished``): a listener writing then
would fail with ERR_STREAM_WRITE_AFTER_END. ``writable_need_drain`` is False from the
``end()`` on. The same program runs on Node and on prefork's client, against one peer
that reads the whole body and answers."""

import asyncio
import json
import socket
import subprocess
import threading

import prefork
from harness import NODE

BODY = 16 << 20  # more than the kernel takes at once: write() says False

NODE_SCRIPT = r"""
const http = require('http');
const events = []; const log = (...a) => events.push(a);
const req = http.request({host: '127.0.0.1', port: +process.argv[1], method: 'POST', agent: false,
                          headers: {'Content-Length': String(%d)}});
req.on('socket', (s) => s.once('connect', () => {
  log('write', req.write(Buffer.alloc(%d)), req.writableNeedDrain);
  req.end();
  log('ended', req.writableNeedDrain);
}));
req.on('drain', () => { log('drain'); req.write('x', (err) => log('cb', err ? err.code : null)); });
req.on('error', (e) => log('error', e.code));
req.on('response', (res) => { log('response', res.statusCode); res.resume(); res.on('end', () => log('end')); });
req.on('close', () => { log('close', req.writableFinished); process.stdout.write(JSON.stringify(events) + '\n', () => process.exit(0)); });
""".replace("%d", str(BODY))


class Peer:
    """Reads one request's head and body, then answers 200 and closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            size = len(data.partition(b"\r\n\r\n")[2])
            while size < BODY:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    return
                size += len(chunk)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self):
        self.sock.close()
        self.thread.join(10)


def prefork_events(port):
    events = []

    async def main():
        closed = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "method": "POST", "agent": False,
                               "headers": {"Content-Length": str(BODY)}})

        def connected():
            events.append(["write", req.write(bytes(BODY)), req.writable_need_drain])
            req.end()
            events.append(["ended", req.writable_need_drain])

        def on_drain():
            events.append(["drain"])
            req.write(b"x", lambda err=None: events.append(["cb", getattr(err, "code", None)]))

        def on_response(res):
            events.append(["response", res.status_code])
            res.resume()
            res.on("end", lambda: events.append(["end"]))

        req.on("socket", lambda s: s.once("connect", connected))
        req.on("drain", on_drain)
        req.on("error", lambda e: events.append(["error", getattr(e, "code", None)]))
        req.on("response", on_response)
        req.on("close", lambda: events.append(["close", req.writable_finished]) or closed.done() or closed.set_result(None))
        await asyncio.wait_for(closed, 10)
        assert await asyncio.wait_for(req.drain(), 1) is None  # (ended: at once)

    asyncio.run(main())
    return events


def node_events(port):
    out = subprocess.run([NODE, "-e", NODE_SCRIPT, str(port)], capture_output=True, text=True, timeout=20,
                         check=True).stdout
    return json.loads(out)


def run(events_of):
    peer = Peer()
    try:
        return events_of(peer.port)
    finally:
        peer.close()


def test_an_ended_request_whose_write_said_false_gets_no_drain():
    expected = [["write", False, True], ["ended", False], ["response", 200], ["end"], ["close", True]]
    assert run(prefork_events) == expected
    if NODE is not None:
        assert run(node_events) == expected
