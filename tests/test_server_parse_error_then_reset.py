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
import time

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



def held_timeout_then_reset():
    """A head cut short, then the loop held past the head's deadline while the client
    resets the connection: the deadline and the reset are both due when the loop goes on
    (which the server meets first is up to the loop). The socket's events, and the client
    errors the server counted."""
    def setup(server, st):
        def on_connection(sock):
            sock.on("error", lambda err: st.record("error", err.code))
            sock.on("close", lambda had_error=False: st.record("close", had_error))
            st.record("connection")
        server.on("connection", on_connection)

    st = ServerThread(setup, headers_timeout=0.2, request_timeout=0.2, connections_checking_interval=0.05)
    release, held = threading.Event(), threading.Event()

    def hold():
        held.set()
        release.wait(5)
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            st.wait_for(lambda event: event[0] == "connection")
            time.sleep(0.05)  # (the head's bytes read: its deadline runs)
            st.loop.call_soon_threadsafe(hold)
            held.wait(5)
            time.sleep(0.3)  # past the deadline, the loop held
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.05)  # (the reset is in)
        release.set()
        st.wait_for(lambda event: event[0] == "close")
        events = [list(event) for event in st.events if event[0] != "connection"]
        return events, dict(st.call(lambda: st.server.stats.client_errors))
    finally:
        release.set()
        st.stop()


def test_a_timeout_whose_canned_reply_meets_the_reset_is_reported_once():
    """Whichever the server meets first, the deadline (its 408's write then fails at
    once) or the reset, the socket reports that one alone and the server counts it
    alone. (A few tries: the order is the loop's.)"""
    for _ in range(4):
        events, client_errors = held_timeout_then_reset()
        assert len(events) == 2 and events[0][0] == "error" and events[1] == ["close", True], events
        assert client_errors == {events[0][1]: 1}, (events, client_errors)
