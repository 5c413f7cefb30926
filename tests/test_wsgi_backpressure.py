"""What a WSGI app that produces faster than its client reads costs the worker, against
the real daemon: the legacy ``write()`` and a generator body, on the loop (``threads =
1``) and on a thread pool (``threads = 2``).

On the loop, ``write()`` cannot make the app wait without holding every connection of
the worker: once the response pushes back, its bytes go to a temporary file and reach
the client as it reads (wsgi/sending.py ``Spill``). A generator is paused instead; on
threads, the app's thread waits. Either way a client that reads nothing costs the worker
a few MiB, not the app's whole output, and is disconnected after ``timeout``.

The app below (this module, loaded by the worker) serves the daemon; the clients are raw
sockets on loopback.
"""

import os
import re
import socket

import pytest

from daemon import Daemon, wait_until

# -- the app (runs in the worker) -----------------------------------------------------------------------
BLOCK = 4 * 1024 * 1024
BLOCKS = 20  # 80 MiB: what the worker would hold for a client that reads nothing


def _progress(token, count):
    with open(os.path.abspath(f"progress-{token}"), "w") as fh:
        fh.write(str(count))


def _block(i, size=BLOCK):
    return bytes([65 + i % 26]) * size


def _mixed_sizes():
    return [1, 70000, 3 * 1024 * 1024 + 5, 17, 1024 * 1024, 2, 5 * 1024 * 1024, 300000]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    token = environ["QUERY_STRING"]
    plain = [("Content-Type", "application/octet-stream")]
    if path == "/write":  # write() BLOCKS times, then an empty iterable
        write = start_response("200 OK", plain)
        for i in range(BLOCKS):
            write(_block(i))
            _progress(token, i + 1)
        return []
    if path == "/generator":  # the same bytes yielded
        start_response("200 OK", plain)

        def blocks():
            for i in range(BLOCKS):
                yield _block(i)
                _progress(token, i + 1)
        return blocks()
    if path == "/mixed":  # write() of blocks of many sizes, then a generator of more, then the app is done
        headers = plain
        if token.startswith("length"):
            headers = plain + [("Content-Length", str(2 * sum(_mixed_sizes())))]
        write = start_response("200 OK", headers)
        for i, size in enumerate(_mixed_sizes()):
            write(_block(i, size))

        def rest():
            for i, size in enumerate(_mixed_sizes()):
                yield _block(i + 7, size)
            _progress(token, "done")
        return rest()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def expected_mixed():
    sizes = _mixed_sizes()
    return b"".join(_block(i, size) for i, size in enumerate(sizes)) + \
        b"".join(_block(i + 7, size) for i, size in enumerate(sizes))


# -- the daemon ------------------------------------------------------------------------------------------
def start(threads, timeout=2):
    daemon = Daemon("--interface", "wsgi", "--threads", str(threads), "--timeout", str(timeout),
                    app="test_wsgi_backpressure:app", workers=1)
    daemon.wait_ready()
    return daemon


@pytest.fixture(params=[1, 2], ids=["loop", "threads"])
def d(request):
    daemon = start(request.param)
    daemon.threads = request.param
    try:
        yield daemon
    finally:
        daemon.cleanup()


@pytest.fixture
def patient_daemon():
    """On the loop, with a ``timeout`` (10 s) no step of a test comes near."""
    daemon = start(1, timeout=10)
    try:
        yield daemon
    finally:
        daemon.cleanup()


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as fh:
        return int(re.search(rf"{field}:\s+(\d+) kB", fh.read()).group(1))


def progress(d, token):
    try:
        with open(os.path.join(d.tmp, f"progress-{token}")) as fh:
            return fh.read()
    except OSError:
        return ""


def spill_files(pid):
    """The worker's descriptors on a deleted temporary file (a write() spill: no request
    here has a body to spool)."""
    found = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.endswith("(deleted)") and not target.startswith(("socket:", "pipe:", "anon_inode:")):
            found.append(target)
    return found


def non_reading(d, target):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", d.port))
    sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def dechunk(body):
    out = bytearray()
    at = 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2:end + 2 + size]
        at = end + 2 + size + 2


# -- the tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["write", "generator"])
def test_a_client_that_reads_nothing_costs_the_worker_a_few_mib_not_the_apps_output(d, shape):
    """80 MiB made for a client that reads nothing: the worker's peak memory grows by a
    few MiB (one 4 MiB block in the socket's buffer, plus a step), not by 80 MiB (226 MB
    for 200 MB written, before); the client is disconnected after ``timeout`` (2 s), and
    a write() spill file is closed with it."""
    worker = d.workers()[0]
    before = status_kib(worker, "VmHWM")
    token = f"{shape}-{d.threads}"
    reader = non_reading(d, f"/{shape}?{token}".encode())
    try:
        limit = 24 * 1024
        wait_until(lambda: "took nothing for" in d.log() or status_kib(worker, "VmHWM") - before > limit, 8,
                   what="the client cut, or the worker grown")
        grown = status_kib(worker, "VmHWM") - before
        assert grown < limit, f"the worker's peak grew by {grown} KiB"
        made = int(progress(d, token) or 0)
        if shape == "write" and d.threads == 1:
            assert made == BLOCKS  # the app was not held: its bytes went to disk
        else:
            assert made < 6  # the app was paused while the client pushed back
        assert not spill_files(worker) or (shape == "write" and d.threads == 1)
        wait_until(lambda: not spill_files(worker), 5, what=lambda: f"no spill file; {spill_files(worker)}")
        assert d.request("/hello", timeout=5).endswith(b"hello")  # the worker serves on
    finally:
        reader.close()


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_every_byte_written_while_the_client_pushed_back_arrives_in_order(patient_daemon, framing):
    """write() blocks of many sizes, while the client reads nothing, then a generator of
    more: once the app is done (its write()s on disk), the client reads the body whole
    and in the app's order, chunked or with the app's Content-Length."""
    d = patient_daemon
    worker = d.workers()[0]
    token = framing
    sock = non_reading(d, f"/mixed?{token}".encode())
    try:
        wait_until(lambda: spill_files(worker), 5, what="the writes spilled to disk")
        data = read_until_close_or_length(sock, len(expected_mixed()))
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        if framing == "chunked":
            assert b"Transfer-Encoding: chunked" in head
            body = dechunk(body)
        else:
            assert b"Content-Length: %d" % len(expected_mixed()) in head
        assert len(body) == len(expected_mixed())
        assert body == expected_mixed()
        assert progress(d, token) == "done"
        wait_until(lambda: not spill_files(worker), 5, what="the spill file closed with its response")
    finally:
        sock.close()


def read_until_close_or_length(sock, length):
    """Read a response whose body is ``length`` bytes (with framing, a little more)."""
    sock.settimeout(10)
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return bytes(data)
        data += chunk
        head, sep, body = bytes(data[:4096]).partition(b"\r\n\r\n")
        if sep and b"chunked" not in head and len(data) - len(head) - 4 >= length:
            return bytes(data)
        if sep and b"chunked" in head and data.endswith(b"\r\n0\r\n\r\n"):
            return bytes(data)


def test_a_client_gone_while_write_bytes_wait_on_disk_frees_the_call_and_the_file(patient_daemon):
    """The client goes away while the call waits for its spilled bytes: the call ends
    then (the next request is answered long before ``timeout`` could cut anyone), and
    the file goes."""
    d = patient_daemon
    worker = d.workers()[0]
    reader = non_reading(d, b"/write?gone")
    wait_until(lambda: progress(d, "gone") == str(BLOCKS), 5, what="the app done")
    assert spill_files(worker)
    reader.close()
    answer = d.request("/hello", timeout=5)  # (the stall watch would take 10 s)
    assert answer.endswith(b"hello")
    wait_until(lambda: not spill_files(worker), 5, what="the spill file closed")
    assert "took nothing for" not in d.log()


def test_a_request_pipelined_behind_spilled_writes_is_answered_after_them(patient_daemon):
    """The call of a request pipelined behind a response whose write()s wait on disk runs
    once they are handed over, and its answer follows that response on the wire."""
    d = patient_daemon
    worker = d.workers()[0]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", d.port))
    sock.sendall(b"GET /mixed?pipelined HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        wait_until(lambda: spill_files(worker), 5, what="the writes spilled to disk")
        sock.settimeout(10)
        data = bytearray()
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        first, _, rest = bytes(data).partition(b"\r\n0\r\n\r\n")
        head, _, body = first.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"chunked" in head
        assert dechunk(body + b"\r\n0\r\n\r\n") == expected_mixed()
        assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"hello")
    finally:
        sock.close()
