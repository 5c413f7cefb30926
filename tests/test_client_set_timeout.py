"""The client request's ``set_timeout(seconds, callback)`` against Node 20's: the callback
is a ``once`` listener added at the call (two calls before the socket: both, in their
order, before a ``timeout`` listener added later), and the request's ``timeout`` comes
once per request, where the response's comes at each idle period. prefork kept only the
last callback made before the socket, added it at the socket (after later listeners),
with ``on``, and told the request of every idle period.

A raw server sends the body in pieces: 2 bytes, 300 ms, 2 bytes, 1.2 s, 2 bytes (each
gap past the 250 ms timeout)."""

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time

import prefork

NODE = shutil.which("node")

NODE_CLIENT = r"""
const http = require('http');
const events = [];
const log = (e) => events.push(e);
const r = http.get({host: '127.0.0.1', port: +process.argv[1], path: '/', agent: false});
r.setTimeout(250, () => log('cb1')); r.setTimeout(250, () => log('cb2'));
r.on('timeout', () => log('timeout listener'));
r.on('response', (res) => {
  res.on('data', (c) => log('data ' + c.length)); res.on('end', () => log('end'));
  res.on('timeout', () => log('res timeout'));
});
r.on('close', () => { log('close'); console.log(JSON.stringify(events)); });
"""


def slow_server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve():
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nab")
                for pause, piece in ((0.3, b"cd"), (1.2, b"ef")):
                    time.sleep(pause)  # (the server's pacing: the gaps under test)
                    conn.sendall(piece)
                time.sleep(0.1)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_set_timeout_callbacks_and_the_requests_timeout_as_node():
    listener, thread = slow_server()
    port = listener.getsockname()[1]
    events = []

    async def main():
        done = asyncio.get_running_loop().create_future()
        r = prefork.get({"host": "127.0.0.1", "port": port, "path": "/", "agent": False})
        r.set_timeout(0.25, lambda: events.append("cb1"))
        r.set_timeout(0.25, lambda: events.append("cb2"))
        r.on("timeout", lambda: events.append("timeout listener"))

        def on_response(res):
            res.on("data", lambda c: events.append(f"data {len(c)}"))
            res.on("end", lambda: events.append("end"))
            res.on("timeout", lambda: events.append("res timeout"))
        r.on("response", on_response)
        r.on("close", lambda: (events.append("close"), done.done() or done.set_result(None)))
        await asyncio.wait_for(done, 10)
    try:
        asyncio.run(main())
        # the first gap: both callbacks in their order, the listener, the response's; the
        # second: the response's alone (the request's comes once)
        expected = ["data 2", "cb1", "cb2", "timeout listener", "res timeout", "data 2", "res timeout", "data 2",
                    "end", "close"]
        assert events == expected, events
        if NODE:
            out = subprocess.run([NODE, "-e", NODE_CLIENT, str(port)], capture_output=True, text=True, timeout=30)
            assert json.loads(out.stdout.strip().splitlines()[-1]) == expected, out.stdout + out.stderr
    finally:
        listener.close()
        thread.join(10)
