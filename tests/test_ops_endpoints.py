"""The master's operations endpoints against clients that hold them: connections one
client leaves open (silent, or trickling a head) must not keep a liveness probe from
another address out, and the master's supervision and descriptors are unaffected. Real
daemons, real sockets and signals; every process is killed by PID at the end (the
``daemons`` fixture)."""

import os
import signal
import time
import socket

from daemon import wait_until
from harness import read_until_close

LIMIT = 64  # the endpoints' connection limit (prefork.master.operations.MAX_CONNECTIONS)


def master_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def probe(port, path="/healthz", source="127.0.0.2"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


def hold(port, count, first_bytes=b"", source="127.0.0.1"):
    """``count`` connections from ``source``, each having sent ``first_bytes``."""
    held = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
            held.append(sock)
            if first_bytes:
                sock.sendall(first_bytes)
    except BaseException:
        close(held)
        raise
    return held


def close(socks):
    for sock in socks:
        sock.close()


def accepted(d, count):
    wait_until(lambda: master_fds(d.pid) >= count, 5, what=f"{count} descriptors in the master")


def settled(d, base):
    wait_until(lambda: master_fds(d.pid) <= base, 10, what="the master's descriptors back to where they were")


def test_connections_held_open_by_one_client_do_not_keep_a_probe_out(daemons):
    """64 connections trickling a head (slowloris) filled the endpoints' limit, and every
    new connection was closed as soon as it was accepted: /healthz answered nothing for
    as long as they were held (each reconnecting after its request timeout), so a
    liveness probe failed and the daemon was restarted. A probe from another address
    now gets room: one of the crowd's connections is closed for it."""
    d = daemons(workers=2)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    assert probe(port).startswith(b"HTTP/1.1 200 OK")
    settled(d, base)
    held = hold(port, LIMIT, b"GET /metrics HTTP/1.1\r\nX-Slow: ")
    try:
        accepted(d, base + LIMIT)
        for _ in range(3):
            answer = probe(port)
            assert answer.startswith(b"HTTP/1.1 200 OK") and b"ok: 2 workers" in answer, answer[:200]
        # supervision goes on meanwhile: a killed worker is replaced, a signal handled
        first, _ = d.wait_workers(2)
        os.kill(first, signal.SIGKILL)
        d.wait_workers(2, exclude=[first])
        d.signal(signal.SIGTTIN)
        d.wait_workers(3)
        assert master_fds(d.pid) <= base + LIMIT + 1  # the new worker's channel; none leaked
    finally:
        close(held)
    settled(d, base + 1)
    assert probe(port, "/readyz", source="127.0.0.1").startswith(b"HTTP/1.1 200 OK")


def test_room_is_made_by_closing_the_crowds_connection_silent_longest(daemons):
    """Not its oldest connection: the one silent longest. A client of that address that
    asked something a moment ago keeps its connection."""
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    keeper = socket.create_connection(("127.0.0.1", port), timeout=5)
    held = hold(port, LIMIT - 1)
    try:
        accepted(d, base + LIMIT)
        keeper.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")  # a keep-alive answer
        assert keeper.recv(65536).startswith(b"HTTP/1.1 200 OK")
        assert probe(port).startswith(b"HTTP/1.1 200 OK")
        held[0].settimeout(5)
        assert held[0].recv(1) == b""  # the first one held was closed for the probe
        keeper.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(keeper).startswith(b"HTTP/1.1 200 OK")
    finally:
        keeper.close()
        close(held)


def closed_count(socks):
    closed = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    return closed


def test_at_the_limit_an_address_with_its_share_gets_no_more_while_the_others_are_busy(daemons):
    """Two addresses holding 32 each, all of them asking something a moment ago: a new
    connection from either takes the place of that address's own oldest (the other's are
    left alone: it keeps its share); one from a third address gets room, taken from one
    of them."""
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    held = hold(port, LIMIT // 2, source="127.0.0.1")
    held += hold(port, LIMIT // 2, source="127.0.0.2")
    try:
        accepted(d, base + LIMIT)
        for sock in held:
            sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in held:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        for source in ("127.0.0.1", "127.0.0.2"):  # (kept open: the limit stays reached)
            for sock in held:  # every one moved just now: none silent for EVICT_AFTER
                if sock.fileno() >= 0 and closed_count([sock]) == 0:
                    sock.setblocking(True)
                    sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                    assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
            newcomer, = hold(port, 1, source=source)
            held.append(newcomer)
            newcomer.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert newcomer.recv(65536).startswith(b"HTTP/1.1 200 OK")
        assert closed_count(held[:1]) == 1 and closed_count(held[LIMIT // 2:LIMIT // 2 + 1]) == 1  # each its own oldest
        assert closed_count(held) == 2
        assert probe(port, source="127.0.0.3").startswith(b"HTTP/1.1 200 OK")
        assert closed_count(held) == 3  # and one more made room for 127.0.0.3
    finally:
        close(held)


def test_connections_held_by_many_addresses_make_room_once_silent(daemons):
    """64 silent connections, each from its own address: none holds more than a probe's
    address would, and the probe was closed as soon as accepted, for as long as they
    stayed. One silent for a second now makes room."""
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    held = []
    try:
        for i in range(LIMIT):
            held += hold(port, 1, source=f"127.0.1.{i + 1}")
        accepted(d, base + LIMIT)
        wait_until(lambda: probe(port, source="127.0.2.1").startswith(b"HTTP/1.1 200 OK"), 5,
                   what="a probe answered")
        assert closed_count(held) == 1
    finally:
        close(held)


def test_heads_trickled_from_many_addresses_do_not_keep_a_probe_out(daemons):
    """64 connections, each from its own address, each sending a head byte more often
    than once a second: none was ever silent for EVICT_AFTER, so every probe from another
    address was closed at once (a kubelet's liveness probe failed and the pod was
    restarted). A connection that brings no request for a second is idle however often
    its bytes come: it makes room."""
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    held = []
    try:
        for i in range(LIMIT):
            held += hold(port, 1, first_bytes=b"GET /healthz HTTP/1.1\r\nX: ", source=f"127.0.1.{i + 1}")
        accepted(d, base + LIMIT)
        answered = False
        deadline = time.monotonic() + 8
        while not answered and time.monotonic() < deadline:
            for sock in held:  # every connection moves: none is silent
                try:
                    sock.send(b"x")
                except OSError:
                    pass
            try:
                answered = probe(port, source="127.0.2.1").startswith(b"HTTP/1.1 200 OK")
            except OSError:
                pass
        assert answered, "no probe answered while the heads trickled"
    finally:
        close(held)
