"""Django's FileResponse on the loop (``threads = 1``), sent by ``sendfile``: the access
log's duration runs to the file's last byte, as it does for a body the app iterates,
not to the moment the transfer began. A client that takes the file slowly makes the
transfer long; its line says so.

Every process started is killed by PID at the end (``Daemon.cleanup``)."""

import hashlib
import os
import socket
import time

from daemon import Daemon, scratch_dir, wait_until


SIZE = 24 * 1024 * 1024  # more than the kernel's buffers hold between the two ends
PAUSE = 1.0  # the client reads nothing for this long after the head


def _log_lines(path):
    try:
        with open(path) as fh:
            return [line for line in fh.read().splitlines() if "/big-file" in line]
    except FileNotFoundError:
        return []


def test_sendfile_duration_runs_to_the_last_byte():
    tmp = scratch_dir("django-file-")
    path = os.path.join(tmp, "big.bin")
    data = os.urandom(SIZE)
    with open(path, "wb") as fh:
        fh.write(data)
    access = os.path.join(tmp, "access.log")
    daemon = Daemon("--interface", "wsgi", "--threads", "1", "--timeout", "20",
                    app="apps.frameworks_django.wsgi:application", workers=1, access_log=access,
                    env={"PREFORK_TEST_BIG_FILE": path})
    try:
        daemon.wait_ready()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.settimeout(15)
        sock.connect(("127.0.0.1", daemon.port))
        started = time.monotonic()
        sock.sendall(b"GET /big-file HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        head, body = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"Content-Length: %d" % SIZE in head, head
        time.sleep(PAUSE)  # the client takes nothing: the transfer waits on it
        parts = [body]
        got = len(body)
        deadline = time.monotonic() + 15
        while got < SIZE and time.monotonic() < deadline:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        elapsed = time.monotonic() - started
        sock.close()
        body = b"".join(parts)
        assert len(body) == SIZE
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()

        wait_until(lambda: _log_lines(access), 10, what="the access log line")
        (line,) = _log_lines(access)
        fields = line.split()
        assert fields[-5] == "200" and fields[-4] == str(SIZE), line
        micros = int(fields[-1])
        assert micros >= PAUSE * 1e6, (line, elapsed)
        assert micros <= elapsed * 1e6 + 100000, (line, elapsed)
    finally:
        daemon.cleanup()


def test_sendfile_cut_logs_the_bytes_that_went():
    """The client leaves after a part of the file: its line gives the bytes sent (at
    least what the client read, at most the file), not ``-``."""
    tmp = scratch_dir("django-file-")
    path = os.path.join(tmp, "big.bin")
    with open(path, "wb") as fh:
        fh.write(os.urandom(SIZE))
    access = os.path.join(tmp, "access.log")
    daemon = Daemon("--interface", "wsgi", "--threads", "1", "--timeout", "20",
                    app="apps.frameworks_django.wsgi:application", workers=1, access_log=access,
                    env={"PREFORK_TEST_BIG_FILE": path})
    try:
        daemon.wait_ready()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # the file cannot all fit in
        sock.settimeout(15)
        sock.connect(("127.0.0.1", daemon.port))
        sock.sendall(b"GET /big-file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        body = len(received.split(b"\r\n\r\n", 1)[1])
        while body < 1024 * 1024:
            chunk = sock.recv(65536)
            assert chunk
            body += len(chunk)
        sock.close()  # unread bytes pending: the peer gets a reset

        wait_until(lambda: _log_lines(access), 10, what="the access log line")
        (line,) = _log_lines(access)
        fields = line.split()
        assert fields[-5] == "200", line
        assert fields[-4].isdigit(), line
        assert body <= int(fields[-4]) < SIZE, (line, body)
    finally:
        daemon.cleanup()
