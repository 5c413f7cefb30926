"""A flood of pipelined requests on the operations endpoints must not hold up the
master's supervision: a killed worker is reaped and replaced, and a probe on another
connection answered, within a fraction of a second. Real daemon, sockets and signals;
the flood is bounded in time, every process is killed by PID at the end."""

import os
import signal
import socket
import threading
import time

from daemon import wait_until
from harness import read_until_close

CONNECTIONS = 60  # under the endpoints' limit of 64
FLOOD_SECONDS = 30.0  # a bound: stop() ends it as soon as the checks are done


class Flood:
    """``CONNECTIONS`` connections from 127.0.0.1 each keeping up to 100 requests for
    ``path`` pipelined, reading the answers as they come; for ``FLOOD_SECONDS`` at most."""

    def __init__(self, port, path):
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(CONNECTIONS)]
        for sock in self.socks:
            sock.setblocking(False)
        self.request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 100
        self.answered = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + FLOOD_SECONDS
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            for sock in self.socks:
                try:
                    sock.send(self.request)
                except BlockingIOError:
                    pass
                try:
                    while True:
                        data = sock.recv(1 << 20)
                        if not data:
                            break
                        self.answered += data.count(b"HTTP/1.1 200 OK")
                except BlockingIOError:
                    pass
            self.stop_event.wait(0.002)

    def stop(self):
        self.stop_event.set()
        self.thread.join(10)
        for sock in self.socks:
            sock.close()


def timed_probe(port):
    start = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0))
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = read_until_close(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    return time.monotonic() - start


def test_a_pipelined_flood_of_status_requests_does_not_hold_up_supervision(daemons):
    """Each loop turn answered every request it read: 60 connections with 64 pipelined
    /status.json each (a pass over every worker's /proc entries per answer) kept the
    master busy for seconds per turn, and a SIGKILLed worker stayed unreaped (and
    unreplaced) for ~1-3 s, a probe as long. Answers now take turns, a few ms per loop
    turn, one connection after another."""
    d = daemons(workers=16)
    d.wait_ready(timeout=30)
    port = d.metrics_port()
    flood = Flood(port, "/status.json")
    try:
        wait_until(lambda: flood.answered > 2000, 30, what="the flood answered")
        for _ in range(3):
            probe = timed_probe(port)
            assert probe < 0.5, f"a probe took {probe:.3f} s"
            victim = d.serving_workers()[0]
            start = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_until(lambda: not os.path.exists(f"/proc/{victim}"), 10, interval=0.002, what="the worker reaped")
            reaped = time.monotonic() - start
            assert reaped < 0.5, f"a killed worker was reaped after {reaped:.3f} s"
            d.wait_workers(16, exclude=[victim], timeout=10)
        assert flood.thread.is_alive()  # all measured under the flood
    finally:
        flood.stop()
    assert timed_probe(port) < 0.5
