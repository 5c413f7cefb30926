"""A parse error nobody listens for with ``clientError``, then the client's reset: Node's
server socket, destroyed with the parse error, reports that error alone (its own
``error`` listeners hear it once, its ``close`` says ``had_error``); the reset that
comes after is neither one more socket error nor one more client error in the
server's counts. Checked against Node v20 when ``node`` is installed."""

import json
import shutil
import socket
import struct
import subprocess
import threading

import pytest

from conftest import ServerThread

GARBAGE = b"BLAH\r\n\r\n"

NODE = r"""
const http = require('http'); const net = require('net');
const events = [];
const server = http.createServer((req, res) => res.end('ok'));
server.on('connection', (s) => {
  s.on('error', (e) => events.push(['error', e.code]));
  s.on('close', (h) => { events.push(['close', h]); setTimeout(() => {
    console.log(JSON.stringify(events)); server.close(); }, 50); });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"""


def send_then_reset(port, on_connected=lambda: None, then=lambda: None):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        on_connected()
        sock.sendall(GARBAGE)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    then()


def prefork_run():
    def setup(server, st):
        server.on("request", lambda req, res: res.end("ok"))

        def on_connection(sock):
            sock.on("error", lambda err: st.record("error", err.code))
            sock.on("close", lambda had_error=False: st.record("close", had_error))
            st.record("connection")
        server.on("connection", on_connection)

    st = ServerThread(setup)
    release = threading.Event()
    try:
        def hold_the_loop():  # the garbage and the reset are both in before the server reads
            st.wait_for(lambda event: event[0] == "connection")
            st.loop.call_soon_threadsafe(release.wait, 5)
        send_then_reset(st.port, hold_the_loop, release.set)
        st.wait_for(lambda event: event[0] == "close")
        events = [list(event) for event in st.events if event[0] != "connection"]
        return events, dict(st.call(lambda: st.server.stats.client_errors))
    finally:
        release.set()
        st.stop()


def test_the_reset_after_an_unlistened_parse_error_is_not_reported_again():
    events, client_errors = prefork_run()
    assert events == [["error", "HPE_INVALID_METHOD"], ["close", True]], events
    assert client_errors == {"HPE_INVALID_METHOD": 1}, client_errors


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_same_events_as_nodes():
    proc = subprocess.Popen(["node", "-e", NODE], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        send_then_reset(port)
        out = proc.communicate(timeout=10)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert prefork_run()[0] == json.loads(out.strip().splitlines()[-1])
