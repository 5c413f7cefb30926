"""A request listener (plain or coroutine) that raises after ``res.write()`` cuts the
response: the client gets what was written (a chunked body with no last chunk) and the
connection closes. The response closes without ``finish`` (``writable_finished``
false), as Node's does when its socket is destroyed after a write (``res.write(x);
setImmediate(() => req.socket.destroy())``: the request's ``aborted``, the response's
``close``, the request's ``error`` ECONNRESET and ``close``), and the response observer
(access log) sees it cut with the body bytes written. It used to emit ``finish`` and be
logged whole.
"""

import json
import logging
import shutil
import socket
import subprocess

import pytest

from hostile import read_to_close

NODE = shutil.which("node")

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const events = [];
const server = http.createServer((req, res) => {
  res.on('finish', () => events.push('finish'));
  res.on('close', () => events.push('close ' + (res.writableFinished ? 'True' : 'False')));
  req.on('aborted', () => events.push('aborted'));
  req.on('error', (e) => events.push('req error ' + e.code));
  req.on('close', () => events.push('req close'));
  res.write('part');
  setImmediate(() => req.socket.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  c.on('data', () => {});
  c.on('close', () => setTimeout(() => { console.log(JSON.stringify(events)); server.close(); }, 50));
});
"""


@pytest.mark.parametrize("coroutine", [False, True])
def test_a_response_cut_by_a_raising_listener_closes_without_finish_and_is_observed_cut(serve, coroutine, caplog):
    caplog.set_level(logging.CRITICAL, logger="prefork")

    def setup(server, st_):
        def listen(req, res):
            res.on("finish", lambda: st_.record("finish"))
            res.on("close", lambda: st_.record(f"close {res.writable_finished}"))
            req.on("aborted", lambda: st_.record("aborted"))
            req.on("error", lambda e: st_.record("req error " + e.code))
            req.on("close", lambda: st_.record("req close"))
            res.write("part")

        def on_request(req, res):
            listen(req, res)
            raise RuntimeError("boom")

        async def on_request_coro(req, res):
            listen(req, res)
            raise RuntimeError("boom")
        server.on("request", on_request_coro if coroutine else on_request)
        server.response_observer = lambda req, res: st_.record(
            f"observed {type(res).__name__} {res.status_code} {res.bytes_sent}")

    st_ = serve(setup)
    with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_close(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n4\r\npart\r\n"), data
    st_.wait_for(lambda e: e[0] == "req close")
    events = [e[0] for e in st_.events]
    assert "observed CutResponse 200 4" in events, events
    events = [e for e in events if not e.startswith("observed")]
    assert events == ["aborted", "close False", "req error ECONNRESET", "req close"], events
    if NODE:
        out = subprocess.run([NODE, "-e", NODE_SERVER], capture_output=True, text=True, timeout=30)
        assert events == json.loads(out.stdout.strip().splitlines()[-1])
