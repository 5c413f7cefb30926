"""A parse error (or a head timeout) nobody listens for with ``clientError``: the canned
reply goes out, then the socket reports the error as Node's server socket does, destroyed
with it: its own ``error`` listeners (an application's, added at ``connection``) hear the
error once, and its ``close`` says ``had_error`` True. Checked against Node v20 when
``node`` is installed."""

import json
import shutil
import socket
import subprocess

import pytest

from conftest import ServerThread
from harness import read_until_close

CASES = {  # the bytes sent, and the status line they get
    "invalid method": (b"BLAH\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    "header overflow": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                        "HTTP/1.1 431 Request Header Fields Too Large"),
    # (answered before its body: the response's head is out, no canned reply)
    "bad chunk size": (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                       "HTTP/1.1 200 OK"),
}

NODE = r"""
const http = require('http'); const net = require('net');
const data = Buffer.from(process.argv[1], 'latin1'); const events = [];
const server = http.createServer((req, res) => res.end('ok'));
server.on('connection', (s) => {
  s.on('error', (e) => events.push(['error', e.code]));
  s.on('close', (h) => { events.push(['close', h]); server.close(); });
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write(data));
  let got = ''; c.on('data', (d) => got += d.toString('latin1')); c.on('error', () => {});
  c.on('close', () => setTimeout(() => console.log(JSON.stringify({events, status: got.split('\r\n')[0]})), 50));
});
"""


def prefork_run(data):
    def setup(server, st):
        server.on("request", lambda req, res: res.end("ok"))

        def on_connection(sock):
            sock.on("error", lambda err: st.record("error", err.code))
            sock.on("close", lambda had_error=False: st.record("close", had_error))
        server.on("connection", on_connection)

    st = ServerThread(setup)
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(data)
            got = read_until_close(sock)
        st.wait_for(lambda event: event[0] == "close")
        return {"events": [list(event) for event in st.events], "status": got.split(b"\r\n")[0].decode("latin-1")}
    finally:
        st.stop()


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unlistened_parse_error_reaches_the_sockets_error_listener_and_close_says_had_error(case):
    data, status = CASES[case]
    got = prefork_run(data)
    assert got["status"] == status, got
    errors = [event for event in got["events"] if event[0] == "error"]
    assert len(errors) == 1 and errors[0][1].startswith("HPE_"), got
    assert got["events"][-1] == ["close", True], got


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_events_as_nodes(case):
    data, _ = CASES[case]
    out = subprocess.run(["node", "-e", NODE, data.decode("latin-1")], capture_output=True, text=True,
                         timeout=20, check=True).stdout
    assert prefork_run(data) == json.loads(out)
