"""Hostile and careless clients against the real daemon, with its defaults on (the access
log, the metrics), one worker and short timeouts.

After each scenario the worker is the same process, its open descriptors (counted in
/proc/<worker>/fd) are back to what they were, every response the app held has had its
'close', and a plain request is answered.

The daemon serves ``setup`` below (this module, imported by the worker).
"""

import os
import socket
import struct
import time

import pytest

from daemon import Daemon, wait_until
from hostile import open_fds, read_to_close, responses, rss, wait_fds_at_most

MB = 1024 * 1024
LINGER_TIMEOUT = 5.0  # net.Socket's bound on a close that waits for the peer


def setup(server):
    held = set()  # responses the app never ends, until their 'close'

    def fail(*args):
        raise RuntimeError("a listener of the app failed")

    def on_request(req, res):
        path = req.url.split("?", 1)[0]
        if path == "/hang":  # a head and a first chunk, then nothing: the app forgot it
            req.on("data", lambda chunk: None)
            held.add(res)
            res.on("close", lambda: held.discard(res))
            res.write_head(200, ["Content-Type", "text/plain"])
            res.write(b"start\n")
            return
        if path == "/arm-finish":  # this connection's socket gets a 'finish' listener that raises
            req.socket.on("finish", fail)
            res.end("armed")
            return
        if path == "/arm-timeout":  # ... a 'timeout' listener that raises, and a short timeout
            # (set at 'finish': the keep-alive timer, armed there first as in Node, would
            # replace one set at end())
            socket = req.socket
            res.on("finish", lambda: (socket.set_timeout(0.3), socket.on("timeout", fail)))
            res.end("armed")
            return
        if path == "/arm-drain":  # ... a 'drain' listener that raises, and a write that waits for it
            req.socket.on("drain", fail)
            res.write(b"x" * (4 * MB))
            res.end()
            return
        if path == "/held":
            res.end(str(len(held)))
            return
        if path == "/big":
            res.end(b"x" * (4 * MB))
            return
        if path == "/count":  # reads the body and answers with its length
            got = [0]

            def on_data(chunk):
                got[0] += len(chunk)
            req.on("data", on_data)
            req.on("end", lambda: res.end(str(got[0])))
            return
        if path == "/read-upgraded":  # the upgraded sockets get their reader now
            for sock in upgraded:
                got = [0]

                def on_data(chunk, got=got):
                    got[0] += len(chunk)
                sock.on("data", on_data)
                sock.on("end", lambda sock=sock, got=got: sock.end(b"%d" % got[0]))
            upgraded.clear()
            res.end("reading")
            return
        res.end(f"pid {os.getpid()}")  # at once, never reading a body
    server.on("request", on_request)

    def on_upgrade(req, sock, head):  # switches, and reads nothing until /read-upgraded
        sock.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n")
        if req.url == "/refuse":  # a protocol parser that refuses every byte
            sock.on("data", fail)
            return
        upgraded.append(sock)
    upgraded = []
    server.on("upgrade", on_upgrade)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon("--access-log", "-", "--headers-timeout", "1", "--request-timeout", "2",
               "--keep-alive-timeout", "5", "--connections-checking-interval", "0.1",
               app="test_hostile_daemon:setup", workers=1)
    try:
        d.wait_ready(timeout=30)
        [worker] = d.wait_workers(1, timeout=30)
        d.worker = worker
        d.baseline = open_fds(worker)
        yield d
    finally:
        d.cleanup()


def body(data):
    return data.partition(b"\r\n\r\n")[2]


@pytest.fixture
def worker(daemon):
    """The worker's pid; after the test: the same worker, its fds back, no response held
    by the app left without its 'close', and a plain request answered."""
    yield daemon.worker
    wait_fds_at_most(daemon.baseline, daemon.worker)
    assert daemon.workers() == [daemon.worker]
    assert body(daemon.request("/held")) == b"0"
    data = daemon.request("/")
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"pid %d" % daemon.worker)


def connect(daemon):
    return socket.create_connection(("127.0.0.1", daemon.port), timeout=10)


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
], ids=["close", "http/1.0", "post with its body"])
def test_a_closing_answer_to_a_whole_request_does_not_wait_for_the_client_to_close(daemon, worker,
                                                                                 request_bytes):
    """A request answered with ``Connection: close`` from its 'request' listener, sent
    whole: once the answer and the FIN are out the worker closes its socket, as Node and
    nginx do, whether or not the client closes its own end. (It lingered for the
    client's FIN up to 5 s, as if a body were still coming: a client that keeps its end
    open held a descriptor of the worker that long per request.)"""
    sock = connect(daemon)
    try:
        wait_until(lambda: open_fds(daemon.worker) > daemon.baseline, 5, what="the accept")
        sock.sendall(request_bytes)
        data = read_to_close(sock)  # the answer and the worker's FIN; this end stays open
        started = time.monotonic()
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"pid %d" % daemon.worker), data
        wait_fds_at_most(daemon.baseline, daemon.worker, timeout=LINGER_TIMEOUT / 2)
        assert time.monotonic() - started < LINGER_TIMEOUT / 2
    finally:
        sock.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        stat = fh.read()
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(sock, path="/"):
    """One keep-alive request on ``sock``; the response's body."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
        got = responses(data)
        if got:
            return got[0][2]


def test_out_of_descriptors_the_worker_waits_without_spinning_and_serves_what_it_holds(daemon, worker):
    """RLIMIT_NOFILE reached: accept fails with EMFILE. The worker stops accepting for a
    moment at a time (as nginx does) instead of retrying at once, so it does not burn its
    CPU; it goes on serving the connections it holds, and takes the waiting ones once
    descriptors are free."""
    import resource

    soft, hard = resource.prlimit(worker, resource.RLIMIT_NOFILE)
    held, waiting = [], []
    wait_fds_at_most(daemon.baseline, worker)  # (the fixture's own last request closed)
    in_use = {int(fd) for fd in os.listdir(f"/proc/{worker}/fd")}
    free = [fd for fd in range(len(in_use) + 3) if fd not in in_use][:3]  # what three accepts take
    try:
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (free[-1] + 1, hard))
        for _ in range(3):
            held.append(connect(daemon))
            assert get(held[-1]) == b"pid %d" % worker
        for _ in range(8):  # no descriptor left for these: they wait in the backlog
            sock = connect(daemon)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            waiting.append(sock)
        daemon.wait_log(r"cannot accept connections: Too many open files")
        before, started = cpu_seconds(worker), time.monotonic()
        for sock in held * 5:  # a second and more of serving while the others wait
            assert get(sock) == b"pid %d" % worker
        while time.monotonic() - started < 1.5:
            time.sleep(0.1)  # the window over which the worker's CPU time is measured
        assert cpu_seconds(worker) - before < 0.5, "the worker spins on its listen socket"
        assert open_fds(worker) == len(in_use) + 3
        for sock in held:
            sock.close()
        for sock in waiting:  # each answered and closed in turn
            data = read_to_close(sock)
            assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"pid %d" % worker)
            sock.close()
        daemon.wait_log(r"accepting connections again")
    finally:
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (soft, hard))
        for sock in held + waiting:
            sock.close()


@pytest.mark.parametrize("sent, seen", [
    (b"POST /count HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n",
     b"HTTP/1.1 100 Continue\r\n\r\n"),
    (b"POST /count HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\nabc",
     b"HTTP/1.1 100 Continue\r\n\r\n"),
    (b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\n"),
    (b"POST /hang HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", b"HTTP/1.1 200 OK\r\n"),
    (b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\n"),
], ids=["100-continue, no body", "100-continue, mid-body", "a response never ended",
        "a response never ended, mid-chunk", "a large response being written"])
def test_a_reset_in_the_middle_of_an_exchange_leaves_nothing_behind(daemon, worker, sent, seen):
    """(The fixture checks the worker's fds, and that every response the app held had its
    'close'.)"""
    sock = connect(daemon)
    sock.sendall(sent)
    data = b""
    while len(data) < len(seen):
        chunk = sock.recv(len(seen) - len(data))
        assert chunk, data
        data += chunk
    assert data == seen
    reset(sock)


def test_a_response_never_ended_is_closed_after_its_client_half_closes(daemon, worker):
    """The client sends a whole request and its FIN; the app never ends its answer. The
    worker may still send it (half-close), for request_timeout at most: then the socket
    closes and the app's response gets its 'close'."""
    sock = connect(daemon)
    try:
        sock.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        data = read_to_close(sock, timeout=6)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"6\r\nstart\n\r\n"), data
        assert time.monotonic() - started < 2 + 1.5  # request_timeout, and the sweep's step
    finally:
        sock.close()


@pytest.fixture
def patient_daemon():
    """The module's daemon with a request timeout far above what a slow body takes to
    read (the module's 2 s is below what 200,000 chunks take on a loaded machine: a 408
    then is the timeout doing its job, not the reading failing)."""
    d = Daemon("--access-log", "-", "--headers-timeout", "1", "--request-timeout", "60",
               "--keep-alive-timeout", "5", "--connections-checking-interval", "0.1",
               app="test_hostile_daemon:setup", workers=1)
    try:
        d.wait_ready(timeout=30)
        [d.worker] = d.wait_workers(1, timeout=30)
        yield d
    finally:
        d.cleanup()


def test_a_body_of_one_byte_chunks_is_read_whole_in_bounded_memory(patient_daemon):
    daemon, chunks = patient_daemon, 200_000
    worker = daemon.worker
    assert body(post_chunked(daemon, b"1\r\na\r\n" * 1000)) == b"1000"  # (a first body's one-off growth)
    before = rss(worker)
    data = post_chunked(daemon, b"1\r\na\r\n" * chunks)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n%d" % chunks), data
    assert rss(worker) - before < 16 * MB
    assert daemon.workers() == [worker]


def post_chunked(daemon, chunks):
    """POST /count with the chunked body ``chunks`` (and its last chunk): all it got back."""
    sock = connect(daemon)
    try:
        sock.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     + chunks + b"0\r\n\r\n")
        return read_to_close(sock, timeout=60)
    finally:
        sock.close()


def test_many_idle_and_half_sent_connections_are_closed_by_the_worker(daemon, worker):
    """Connections that send nothing, half a head, or one request and then nothing: the
    worker closes each at its bound (headers_timeout, the keep-alive timeout + 1 s) and
    holds little for them meanwhile."""
    before = rss(worker)
    socks = []
    try:
        for i in range(600):
            sock = connect(daemon)
            if i % 3 == 1:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            elif i % 3 == 2:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(sock)
        wait_until(lambda: open_fds(worker) >= daemon.baseline + 600, 10, what="600 connections open")
        assert rss(worker) - before < 24 * MB
        started = time.monotonic()
        wait_fds_at_most(daemon.baseline, worker, timeout=10)
        assert time.monotonic() - started < 5 + 1 + 1  # the keep-alive timeout + 1 s, and a margin
        for i, sock in enumerate(socks):
            data = read_to_close(sock, timeout=1)
            if i % 3 == 2:
                assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"pid %d" % worker)
            else:
                assert data == b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n", data
    finally:
        for sock in socks:
            sock.close()


def test_a_listener_raising_while_a_connection_times_out_leaves_the_deadlines_of_the_others(daemon, worker):
    """A socket 'finish' listener of the app raises when the worker closes that socket for
    its headers_timeout: that connection is closed, and the next slow client still gets
    its 408 (the raise ended the periodic check of the deadlines for good, so every
    later slow client kept its socket for ever)."""
    sock = connect(daemon)
    try:
        assert get(sock, "/arm-finish") == b"armed"
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert read_to_close(sock, timeout=4).endswith(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")
    finally:
        sock.close()
    daemon.wait_log(r"error in a 'finish' listener of a socket; closing it")
    sock = connect(daemon)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert read_to_close(sock, timeout=4) == b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
    finally:
        sock.close()


def test_a_socket_timeout_listener_that_raises_gets_its_connection_closed(daemon, worker):
    """The app's 'timeout' listener on a kept-alive socket raises: the socket is closed
    (it stayed open for good: the idle timer, its only bound, was not armed again)."""
    sock = connect(daemon)
    try:
        assert get(sock, "/arm-timeout") == b"armed"
        started = time.monotonic()
        assert read_to_close(sock, timeout=4) == b""
        assert time.monotonic() - started < 3
    finally:
        sock.close()
    daemon.wait_log(r"error in a 'timeout' listener of a socket; closing it")


def test_bytes_after_an_upgrade_that_nobody_reads_yet_stop_the_reading(daemon, worker):
    """The 'upgrade' listener switches protocols and attaches no 'data' listener yet
    (it awaits a check first, say): the worker keeps 64 KiB for it and stops reading
    there, as Node's socket without a consumer does, then delivers every byte once a
    listener comes. (It read all the peer sent into memory: 300 MB pushed, 300 MB more
    in the worker.)"""
    sock = connect(daemon)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n" + b"a" * 100)
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101 ")
        sent, growth = push(sock, 48 * MB, worker)
        assert sent < 24 * MB, f"the worker read {sent} bytes nobody takes"
        assert growth < 16 * MB
        assert daemon.request("/read-upgraded").endswith(b"reading")
        sock.sendall(b"b" * MB)
        sock.shutdown(socket.SHUT_WR)
        assert read_to_close(sock) == b"%d" % (sent + MB)  # (the 100 bytes read with the head: ``head``)
    finally:
        sock.close()


def push(sock, limit, pid, chunk=b"a" * (256 * 1024), stall=1.0, seconds=20):
    """Send ``chunk`` over and over until ``limit`` bytes are out or the peer stops taking
    them for ``stall`` seconds; returns (bytes sent, peak growth of ``pid``'s RSS)."""
    sock.setblocking(False)
    start = rss(pid)
    peak = sent = 0
    last_progress = time.monotonic()
    deadline = last_progress + seconds
    try:
        while sent < limit and time.monotonic() < deadline:
            try:
                sent += sock.send(chunk[:limit - sent])
                last_progress = time.monotonic()
            except BlockingIOError:
                if time.monotonic() - last_progress > stall:
                    break
                time.sleep(0.005)  # the peer's window is shut: look again shortly
            peak = max(peak, rss(pid) - start)
    finally:
        sock.setblocking(True)
    return sent, peak


def test_a_data_listener_that_raises_on_what_the_peer_sends_gets_its_socket_closed(daemon, worker):
    """After an upgrade, the app's 'data' listener raises on the peer's bytes (its frame
    parser refuses them): the socket is closed, with one error logged (it stayed open,
    and each further read logged the same traceback again)."""
    sock = connect(daemon)
    try:
        sock.sendall(b"GET /refuse HTTP/1.1\r\nHost: x\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101 ")
        for _ in range(3):
            try:
                sock.sendall(b"garbage")
            except (BrokenPipeError, ConnectionResetError):
                break
        assert read_to_close(sock, timeout=3) == b""
    finally:
        sock.close()
    daemon.wait_log(r"error in a 'data' listener of a socket; closing it")
    assert daemon.log().count("error in a 'data' listener of a socket") == 1


def test_a_drain_listener_that_raises_gets_its_socket_closed(daemon, worker):
    """The app's socket 'drain' listener raises once a large answer is out: the socket is
    closed (it was neither ended nor closed: the FIN of its Connection: close answer
    never came, and the socket stayed open as long as the client kept its end)."""
    sock = connect(daemon)
    try:
        sock.sendall(b"GET /arm-drain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock, timeout=5)
    finally:
        sock.close()
    assert [(status, len(body)) for status, _, body in responses(data)] == [(200, 4 * MB)]
    daemon.wait_log(r"error in a 'drain' listener of a socket; closing it")


@pytest.mark.parametrize("path", ["/", "/big"])
def test_a_pipelined_flood_never_read_stops_the_reading_with_the_access_log_on(daemon, worker, path):
    """Thousands of pipelined requests from a client that reads nothing: the worker stops
    reading once its answers back up (as Node does) and stays bounded in memory, with
    every answer logged and counted; another client is served meanwhile."""
    sock = connect(daemon)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        request = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()
        sent, growth = push(sock, 128 * MB, worker, chunk=request * 2000)
        assert sent < 32 * MB, f"the worker read {sent // len(request)} requests it could not answer"
        assert growth < 32 * MB
        data = daemon.request("/")
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"pid %d" % worker)
    finally:
        reset(sock)
