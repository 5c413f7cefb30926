"""ASGI: a connection's pipelined requests are answered one at a time, as uvicorn
answers them. A client that pipelines many requests for large answers and reads
nothing gets the app called for a few of them only (it was called for every request
parsed, 64 per connection, each answer held in the worker: 1.2 GB for 20 such
clients); once it reads, every answer comes, in order."""

import socket

from daemon import Daemon, wait_until
from harness import read_until_close

BIG = 1_000_000
COUNT = 100


def body_of(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock).partition(b"\r\n\r\n")[2].decode()


def test_pipelined_requests_of_a_client_that_reads_nothing_call_the_app_for_a_few_only():
    d = Daemon(app="apps.asgi_pipeline:app", workers=1)
    try:
        d.wait_ready()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", d.port))
        sock.sendall(f"GET /big?{BIG} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * COUNT)
        # the app answers until the socket's buffers are full, then waits for the client
        wait_until(lambda: int(body_of(d.port, "/count")) > 0, 10, what="the first call")
        settled = []
        wait_until(lambda: settled.append(body_of(d.port, "/count")) or settled[-5:] == [settled[-1]] * 5
                   and len(settled) >= 5, 10, what="the count to settle")
        held = int(settled[-1])
        assert held <= 12, held  # about the kernel's buffers' worth (it was 64)
        # the client reads: every answer comes, in order, each whole
        sock.settimeout(30)
        got = 0
        data = bytearray()  # (its small reads added to bytes, or a partition of 1 MB each, copied GBs)
        while got < COUNT:
            chunk = sock.recv(1 << 20)
            assert chunk, got
            data += chunk
            while True:
                end = data.find(b"\r\n\r\n")  # (data starts with a head: found in its first bytes)
                if end < 0 or len(data) - end - 4 < BIG:
                    break
                head = bytes(data[:end])
                assert head.startswith(b"HTTP/1.1 200 OK") and f"content-length: {BIG}".encode() in head.lower()
                del data[:end + 4 + BIG]
                got += 1
        sock.close()
        assert body_of(d.port, "/count") == str(COUNT)
    finally:
        d.cleanup()


def test_pipelined_requests_run_one_after_the_other():
    d = Daemon(app="apps.asgi_pipeline:app", workers=1)
    try:
        d.wait_ready()
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as sock:
            sock.sendall(b"".join(b"GET /slow?%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
                         + b"GET /order HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(sock)
        assert data.count(b"HTTP/1.1 200 OK") == 4
        assert data.endswith(b"start 0 end 0 start 1 end 1 start 2 end 2"), data[-200:]
    finally:
        d.cleanup()
