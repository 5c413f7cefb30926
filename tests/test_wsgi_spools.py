"""Many uploads at once with ``threads = 1``: each body is read whole before the app is
called, in memory up to ``wsgi_body_spool`` (1 MiB); the bodies a worker keeps in
memory together stay under ``BODIES_IN_MEMORY`` (32 MiB), past which a body goes to its
temporary file. So 48 clients holding 1 MB bodies open cost the worker disk, not 48 MB
of memory; every body then reaches the app whole. Real daemon, real sockets."""

import hashlib
import os
import socket

from daemon import wait_until
from harness import read_until_close
from prefork.wsgi.adapter import BODIES_IN_MEMORY

LENGTH = 1024 * 1024  # the default wsgi_body_spool: on its own, each body stays in memory
SENT_FIRST = 1_000_000
CLIENTS = 48


def spooled_to_disk(pid):
    """The worker's descriptors on a deleted temporary file (a spool that rolled over)."""
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.endswith("(deleted)") and not target.startswith(("socket:", "pipe:", "anon_inode:")):
            count += 1
    return count


def test_many_bodies_at_once_go_to_disk_past_the_memory_budget_and_arrive_whole(daemons):
    assert CLIENTS * SENT_FIRST > BODIES_IN_MEMORY
    d = daemons("--interface", "wsgi", "--threads", "1", app="apps.wsgi_apps:digest", workers=1)
    d.wait_ready()
    worker = d.wait_workers(1)[0]
    payloads = [bytes([65 + n % 26]) * LENGTH for n in range(CLIENTS)]
    socks = []
    try:
        for payload in payloads:
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % LENGTH)
            sock.sendall(payload[:SENT_FIRST])
            socks.append(sock)
        # what the budget leaves out is on disk: at least the bytes over it, body by body
        least = (CLIENTS * SENT_FIRST - BODIES_IN_MEMORY) // SENT_FIRST
        wait_until(lambda: spooled_to_disk(worker) >= least, 20,
                   what=lambda: f"{least} bodies on disk; {spooled_to_disk(worker)} are")
        for sock, payload in zip(socks, payloads):
            sock.sendall(payload[SENT_FIRST:])
        for sock, payload in zip(socks, payloads):
            answer = read_until_close(sock)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            assert answer.endswith(f"{LENGTH} {hashlib.sha256(payload).hexdigest()}".encode())
        wait_until(lambda: spooled_to_disk(worker) == 0, 10, what="every spool closed")
    finally:
        for sock in socks:
            sock.close()
