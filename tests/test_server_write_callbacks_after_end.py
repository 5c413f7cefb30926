"""The callback of a ``write()`` runs after the ``end()`` that sends its bytes has
returned, never inside it, as Node's: for a response answered from a timer or a
coroutine listener (outside the read that brought its request) as for one answered in
its listener. The same program runs on Node's own server when Node is installed: the
logs must match.
"""

import asyncio
import json
import socket
import subprocess

import pytest

from harness import NODE

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const log = [];
const answer = (res) => {
  res.write('a', () => log.push('write cb'));
  log.push('after write');
  res.end('b', () => log.push('end cb'));
  log.push('after end');
  res.on('finish', () => log.push('finish'));
};
const server = http.createServer(async (req, res) => {
  if (req.url === '/timer') setTimeout(answer, 5, res);
  else if (req.url === '/await') { await new Promise((done) => setTimeout(done, 5)); answer(res); }
  else answer(res);
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1');
  c.write('GET ' + process.argv[1] + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  c.resume();
  c.on('close', () => { console.log(JSON.stringify(log)); server.close(); });
});
"""

EXPECTED = ["after write", "after end", "write cb", "end cb", "finish"]


@pytest.mark.parametrize("url", ["/timer", "/await", "/at-once"])
def test_write_callbacks_run_after_end_returns(serve, url):
    log = []

    def answer(res):
        res.write("a", callback=lambda: log.append("write cb"))
        log.append("after write")
        res.end("b", callback=lambda: (log.append("end cb")))
        log.append("after end")
        res.on("finish", lambda: (log.append("finish"), st.record("finish")))

    async def on_request(req, res):
        if req.url == "/timer":
            req.socket.loop.call_later(0.005, answer, res)
        elif req.url == "/await":
            await asyncio.sleep(0.005)
            answer(res)
        else:
            answer(res)
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % url.encode())
        while sock.recv(65536):
            pass
    st.wait_for(lambda e: e == ("finish",))
    seen = st.call(list, log)
    assert seen == EXPECTED, seen
    if NODE:
        run = subprocess.run([NODE, "-e", NODE_PROGRAM, url], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1]) == seen


def test_write_callbacks_run_after_end_returns_with_corks_held(serve):
    """``end()`` releases the response's corks: the callbacks of what they held run
    after it returns too."""
    log = []

    def answer(res):
        res.cork()
        res.cork()
        res.write("a", callback=lambda: log.append("write cb"))
        res.end(callback=lambda: log.append("end cb"))
        log.append("after end")
        st.record("answered")

    def on_request(req, res):
        req.socket.loop.call_later(0.005, answer, res)
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    st.wait_for(lambda e: e == ("answered",))
    st.call(lambda: None)
    assert st.call(list, log)[0] == "after end"
