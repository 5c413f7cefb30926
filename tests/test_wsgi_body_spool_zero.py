"""``wsgi_body_spool = 0`` (``threads = 1``): no body is kept in memory, every byte of
one goes to its temporary file, as the setting says ("bodies up to this size are kept
in memory, larger ones in a temporary file"); so a worker's uploads cost disk, not
memory. The body still reaches the app whole. Real daemon, real sockets."""

import hashlib
import os
import socket

from daemon import wait_until
from harness import read_until_close

LENGTH = 4 * 1024 * 1024
SENT_FIRST = 3 * 1024 * 1024


def spooled_to_disk(pid):
    """The worker's descriptors on a deleted temporary file (a body spooled to disk)."""
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.endswith("(deleted)") and not target.startswith(("socket:", "pipe:", "anon_inode:")):
            count += 1
    return count


def test_a_spool_of_zero_puts_every_body_on_disk(daemons):
    d = daemons("--interface", "wsgi", "--threads", "1", "--wsgi-body-spool", "0", app="apps.wsgi_apps:digest",
                workers=1)
    d.wait_ready()
    worker = d.wait_workers(1)[0]
    payload = bytes(range(256)) * (LENGTH // 256)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % LENGTH)
        sock.sendall(payload[:SENT_FIRST])
        wait_until(lambda: spooled_to_disk(worker) == 1, 10,
                   what=lambda: f"the body on disk; {spooled_to_disk(worker)} spools are")
        sock.sendall(payload[SENT_FIRST:])
        answer = read_until_close(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert answer.endswith(f"{LENGTH} {hashlib.sha256(payload).hexdigest()}".encode())
    wait_until(lambda: spooled_to_disk(worker) == 0, 10, what="the spool closed")
