"""``end(data)`` after ``end()``: Node's ERR_STREAM_WRITE_AFTER_END (the callback, then
``error``), not a silent drop of the data; ``end(callback)`` after ``end()`` calls back
at ``finish``."""

import asyncio
import json
import subprocess

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head

NODE_END_TWICE = r"""
const http = require('http');
const events = [];
const req = http.request({host: '127.0.0.1', port: +process.argv[1], agent: false, method: 'POST'}, (res) => {
  events.push('response'); res.resume();
});
req.on('error', (e) => events.push('error:' + e.code));
req.on('finish', () => events.push('finish'));
req.on('close', () => { events.push('close'); console.log(JSON.stringify(events)); });
req.end('abc');
req.end(() => events.push('second end callback'));
req.end('more', () => events.push('third end callback'));
events.push('ended');
"""


def answering(conn, index):
    data = read_head(conn)
    while not data.endswith(b"abc"):
        data += conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def test_end_after_end_as_with_node():
    srv = RawServer(answering)
    try:
        async def main():
            events = []
            closed = asyncio.get_running_loop().create_future()

            def on_response(res):
                events.append("response")
                res.resume()
            req = prefork.request({"host": "127.0.0.1", "port": srv.port, "agent": False, "method": "POST"},
                                  on_response)
            req.on("error", lambda e: events.append("error:" + e.code))
            req.on("finish", lambda: events.append("finish"))
            req.on("close", lambda: (events.append("close"), closed.set_result(None)))
            req.end("abc")
            req.end(lambda: events.append("second end callback"))
            req.end("more", lambda: events.append("third end callback"))
            events.append("ended")
            await asyncio.wait_for(closed, 10)
            return events
        ours = asyncio.run(main())
    finally:
        srv.close()
    assert ours == ["ended", "third end callback", "error:ERR_STREAM_WRITE_AFTER_END", "finish",
                    "second end callback", "response", "close"]
    if NODE is not None:
        srv = RawServer(answering)
        try:
            out = subprocess.run([NODE, "-e", NODE_END_TWICE, str(srv.port)], capture_output=True, text=True,
                                 timeout=30)
        finally:
            srv.close()
        assert json.loads(out.stdout) == ours
