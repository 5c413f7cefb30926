"""A flood of pipelined requests on the operations endpoints must not hold up the
master's supervision: a killed worker is reaped and replaced, and a probe on another
connection answered, while the flood's requests are still being answered, not after
them all. The order is read from the master's own answers (each /status.json names the
workers and the master's uptime when it was made), so no wall-clock bound is asserted
that a loaded machine could break. Real daemon, sockets and signals; the master is
held (SIGSTOP) only while the flood is written, so that one loop turn reads it all;
every process is killed by PID at the end."""

import json
import os
import signal
import socket

from daemon import wait_until
from harness import read_until_close

CONNECTIONS = 60  # under the endpoints' limit of 64
PIPELINED = 64  # requests written at once on each connection
WORKERS = 16


def status_request(close=False):
    return b"GET /status.json HTTP/1.1\r\nHost: x\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n"


def read_answers(sock, count):
    """``count`` Content-Length framed answers from ``sock``, their bodies parsed."""
    data, bodies = bytearray(), []
    while len(bodies) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = bytes(data[:head_end]).decode("latin-1")
            assert head.startswith("HTTP/1.1 200 OK"), head
            length = int(next(line.split(":", 1)[1] for line in head.split("\r\n")
                              if line.lower().startswith("content-length:")))
            if len(data) >= head_end + 4 + length:
                bodies.append(json.loads(bytes(data[head_end + 4:head_end + 4 + length])))
                del data[:head_end + 4 + length]
                continue
        chunk = sock.recv(1 << 20)
        assert chunk, f"closed after {len(bodies)} answers"
        data += chunk
    return bodies


def pids(snapshot):
    return {worker["pid"] for worker in snapshot["workers"]}


def test_a_pipelined_flood_of_status_requests_does_not_hold_up_supervision(daemons):
    """Each loop turn answered every request it had read: 60 connections with 64
    pipelined /status.json each (a pass over every worker's /proc entries per answer)
    kept the master busy for seconds in one turn, in which a SIGKILLed worker stayed
    unreaped (and unreplaced) and a probe waited behind the whole flood. Answers now
    take turns, a few ms per loop turn, one connection after another."""
    d = daemons(workers=WORKERS)
    d.wait_ready(timeout=30)
    port = d.metrics_port()
    d.wait_workers(WORKERS, timeout=30)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(CONNECTIONS)]
    try:
        for sock in socks:  # each accepted and read by the master before the flood
            sock.sendall(status_request())
            read_answers(sock, 1)
        victim = d.serving_workers()[0]
        os.kill(d.pid, signal.SIGSTOP)
        try:
            for sock in socks:
                sock.sendall(status_request() * PIPELINED)
        finally:
            os.kill(d.pid, signal.SIGCONT)
        # the master is answering the flood (the turn that read it all): kill a worker
        # and ask on another connection, from another address
        for sock in socks:
            sock.setblocking(True)
        first = socks[0].recv(1, socket.MSG_PEEK)
        assert first == b"H"
        os.kill(victim, signal.SIGKILL)
        probe = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=("127.0.0.2", 0))
        try:
            probe.sendall(status_request(close=True))
            head, _, body = read_until_close(probe).partition(b"\r\n\r\n")
        finally:
            probe.close()
        assert head.startswith(b"HTTP/1.1 200 OK"), head
        probed = json.loads(body)["master"]["uptime"]
        answers = [read_answers(sock, PIPELINED) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    flood = [answer for per_connection in answers for answer in per_connection]
    after_probe = sum(answer["master"]["uptime"] > probed for answer in flood)
    assert after_probe > len(flood) // 4, f"{after_probe} of {len(flood)} flood answers came after the probe's"
    last = [per_connection[-1] for per_connection in answers]
    still_listed = sum(victim in pids(answer) for answer in last)
    assert still_listed == 0, f"the killed worker still listed in {still_listed} connections' last answers"
    assert all(len(pids(answer)) == WORKERS for answer in last), "the killed worker was not replaced"
    wait_until(lambda: not os.path.exists(f"/proc/{victim}"), 10, what="the worker reaped")
