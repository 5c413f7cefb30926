"""The access log: the same bytes as the format always gave, and no line lost.

Lines are compared with the formatting rules of the access log before it was buffered
(``reference_line`` below), on real requests to a real server. Loss is counted against
the requests sent to a real daemon, across TERM, INT, USR1, max_requests recycling, a
hung worker's SIGABRT, and SIGKILL (where at most one flush interval may be lost).
"""

import asyncio
import os
import re
import signal
import socket
import time

import pytest

from daemon import Daemon, alive, wait_until
from prefork import logs
from prefork.metrics import WorkerMetrics
from prefork.settings import DEFAULT_ACCESS_FORMAT

ALL_FIELDS = '{h}|{t}|{r}|{m}|{U}|{s}|{b}|{f}|{a}|{D}|{L}|{p} 100% {{literal}}'
WITH_SPECS = '{h:>16} [{t}] {r!r} {s:>5} {b!s:>6} {a!r} {D:08d} {L:>12} {p}'


def escaped(text):
    """The client's text as a line holds it: printable ASCII but for the double quote and
    the backslash as it is, every other character as ``\\xHH`` of its byte."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "".join(f"\\x{b:02X}" for b in c.encode("latin-1"))
                   for c in text)


def reference_line(fmt, req, res, duration, pid):
    """One line as the unbuffered access log formatted it, the client's text escaped."""
    headers = req.headers
    length = res.get_header("content-length")
    return fmt.format(
        h=req.socket.remote_address or "-",
        # the log reads time.time(); a bare strftime() reads the C time(), a coarse
        # clock that can still say the last second a few milliseconds into the next
        t=time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(time.time())),
        r=f"{req.method} {escaped(req.url)} HTTP/{req.http_version}",
        m=req.method, U=escaped(req.url), s=res.status_code,
        b=res.bytes_sent if res.bytes_sent else (length if length not in (None, "0", 0) else "-"),
        f=escaped(headers.get("referer", "-")), a=escaped(headers.get("user-agent", "-")),
        D=int(duration * 1e6), L=f"{duration:.6f}", p=pid)


REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: probe/1.0\r\nReferer: http://r.example/a?b=1\r\n\r\n",
    b"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /q?x=%41&y=\"quoted\" HTTP/1.0\r\nHost: x\r\n\r\n",
    b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /chunked HTTP/1.1\r\nHost: x\r\nUser-Agent: caf\xc3\xa9\r\n\r\n",
    b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /length HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
]


def app(server, st_):
    def on_request(req, res):
        if req.url == "/chunked":
            res.write("part one, ")
            res.end("part two")
        elif req.url == "/empty":
            res.status_code = 204
            res.end()
        elif req.url == "/length":
            res.set_header("Content-Length", "5")
            res.end("12345")
        elif req.url == "/missing":
            res.status_code = 404
            res.end("not here")
        else:
            req.on("data", lambda chunk: None)
            req.on("end", lambda: res.end("hello"))
    server.on("request", on_request)


def send_each(port):
    """Each of REQUESTS on a connection of its own, read to the server's close."""
    for raw in REQUESTS:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(raw[:-2] + b"Connection: close\r\n\r\n" if b"abc" not in raw else
                         raw.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n"))
            while sock.recv(65536):
                pass


def plain_exchange():
    """A request and a response as the observer reads them, as plain classes (the
    request's ``start_time`` and its peer's ``last_activity`` are the caller's)."""
    class Peer:
        remote_address = "127.0.0.1"

    class Req:
        socket, method, url, http_version, headers = Peer(), "GET", "/", "1.1", {}
        forwarded_client = None  # (a trusted proxy's client, as the adapters set it)

    class Res:
        status_code, bytes_sent = 200, 5

    return Peer, Req, Res


@pytest.mark.parametrize("fmt", [DEFAULT_ACCESS_FORMAT, ALL_FIELDS, WITH_SPECS])
@pytest.mark.parametrize("flush", [0.0, 1.0])
def test_lines_are_byte_identical_to_the_unbuffered_format(serve, tmp_path, fmt, flush):
    path = tmp_path / "access.log"
    access = logs.AccessLog(str(path), fmt, flush)
    expected = []

    def observer(req, res):
        duration = 0.000123 + len(expected) * 1.5
        before = reference_line(fmt, req, res, duration, os.getpid())
        access.line(req, res, duration)
        after = reference_line(fmt, req, res, duration, os.getpid())
        expected.append((before, after))

    st_ = serve(app)
    st_.server.response_observer = observer
    send_each(st_.port)
    wait_until(lambda: len(expected) == len(REQUESTS), 5, what="every response observed")
    access.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # whole lines only
    assert len(lines) - 1 == len(REQUESTS)
    for got, (before, after) in zip(lines, expected):
        assert got.decode() in (before, after)


@pytest.mark.parametrize("fmt", [DEFAULT_ACCESS_FORMAT, "{t}", ALL_FIELDS.replace("|{D}|{L}", ""),
                                 WITH_SPECS.replace(" {D:08d} {L:>12}", "")])
@pytest.mark.parametrize("flush", [0.0, 1.0])
def test_the_observer_writes_the_lines_of_the_format_with_its_timed_clock(serve, tmp_path, fmt, flush):
    """The worker's path: the observer compiled with the metrics, its time field kept by
    a timer on the server's loop. Each line is the reference line for the duration the
    observer took (read back from the line) and a wall-clock second within the request.
    With a flush interval the lines are made from the held values at the close."""
    path = tmp_path / "access.log"
    access = logs.AccessLog(str(path), fmt, flush)
    seconds = []

    def setup(server, st):
        observe = access.observer(st.loop, WorkerMetrics(server))

        def observer(req, res):
            before = time.time()
            observe(req, res)
            seconds.append((req, res, before, time.time()))
        server.response_observer = observer
        app(server, st)

    st_ = serve(setup)
    send_each(st_.port)
    wait_until(lambda: len(seconds) == len(REQUESTS), 5, what="every response observed")
    st_.loop.call_soon_threadsafe(access.close)
    wait_until(lambda: access.fd == -1, 5, what="the log closed on its loop")
    got = path.read_bytes().decode().split("\n")
    assert got[-1] == "" and len(got) - 1 == len(REQUESTS)
    for line, (req, res, before, after) in zip(got, seconds):
        # the duration is the observer's own: the default format ends with it in µs
        duration = (int(line.rsplit(" ", 1)[1]) + 0.5) / 1e6 if fmt == DEFAULT_ACCESS_FORMAT else 0.0
        now_text = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(time.time()))
        stamps = {time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(int(t))) for t in (before - 1, after)}
        # the timer's second: the one the request ran in, or the one before
        expected = {reference_line(fmt, req, res, duration, os.getpid()).replace(now_text, stamp)
                    for stamp in stamps}
        assert line in expected, (line, expected)


def test_the_observers_clock_moves_to_the_next_second_on_its_loop(tmp_path):
    Peer, Req, Res = plain_exchange()
    loop = asyncio.new_event_loop()
    access = logs.AccessLog(str(tmp_path / "access.log"), "{t} {s}", 0.0)
    try:
        observe = access.observer(loop)
        written = []
        for _ in range(2):
            Req.start_time = Peer.last_activity = time.monotonic()
            observe(Req, Res)
            written.append(time.time())
            # past the next second of the wall clock, the loop running its timers
            loop.run_until_complete(asyncio.sleep(int(written[-1]) + 1.05 - time.time()))
    finally:
        access.close()
        loop.close()
    got = (tmp_path / "access.log").read_text().splitlines()
    assert got == [time.strftime("%d/%b/%Y:%H:%M:%S %z 200", time.localtime(int(t))) for t in written]


def test_replies_and_responses_are_written_in_the_order_they_ended(tmp_path):
    """The observer holds a response's values and the flush makes its line; a reply the
    server made itself is a line at once. Both wait in one buffer: the file has them in
    the order they ended, the client's text escaped in both."""
    Peer, Req, Res = plain_exchange()

    class Reply:
        socket, method, url, http_version, headers = Peer(), "GET", '/bad"', "1.1", {}
        status_code, bytes_sent, has_body = 400, 0, False

        def get_header(self, name):
            return None

    loop = asyncio.new_event_loop()
    access = logs.AccessLog(str(tmp_path / "access.log"), "{s} {U} {b}", 1.0)
    try:
        observe = access.observer(loop)
        for url in ("/a", None, "/b\x01", None, "/c"):
            if url is None:
                access.reply_line(Reply(), Reply(), 0.001)
            else:
                Req.url = url
                Req.start_time = Peer.last_activity = time.monotonic()
                observe(Req, Res)
        assert not (tmp_path / "access.log").read_text()  # held until the flush
    finally:
        access.close()
        loop.close()
    assert (tmp_path / "access.log").read_text().splitlines() == [
        "200 /a 5", "400 /bad\\x22 -", "200 /b\\x01 5", "400 /bad\\x22 -", "200 /c 5"]


def test_values_of_unusual_types_are_written_and_lose_no_other_line(tmp_path):
    """A User-Agent an application replaced by a list, a Content-Length set as a float:
    each line is written as the log always wrote it (the text of the value, escaped),
    the held lines before and after it too, whether its URL was seen before or not."""
    Peer, Req, Res = plain_exchange()

    class Odd(Res):
        bytes_sent, has_body = 0, True

        def get_header(self, name):
            return 5.0 if name == "content-length" else None

    loop = asyncio.new_event_loop()
    access = logs.AccessLog(str(tmp_path / "access.log"), '{U} "{a}" {b}', 1.0)
    try:
        observe = access.observer(loop)
        for url, agent, res in (("/a", "ua", Res), ("/b", ["x", 'y"'], Res), ("/c", "ua", Odd()),
                                ("/b", ["x", 'y"'], Res), ("/a", "ua", Res)):
            Req.url, Req.headers = url, {"user-agent": agent}
            Req.start_time = Peer.last_activity = time.monotonic()
            observe(Req, res)
    finally:
        access.close()
        loop.close()
    assert (tmp_path / "access.log").read_text().splitlines() == [
        '/a "ua" 5', '/b "[\'x\', \'y\\x22\']" 5', '/c "ua" 5.0', '/b "[\'x\', \'y\\x22\']" 5', '/a "ua" 5']


def test_the_format_is_compiled_without_format_text_in_the_code():
    source, constants = logs.compile_format('{h} "); import os; os._exit(1); (" {s}')
    assert "import" not in source and "_exit" not in source
    assert ' "); import os; os._exit(1); (" ' in constants.values()
    source, constants = logs.compile_format('{s!r} "); import os; (" {D:>8}')
    assert "import" not in source and constants == {"template": '{s!r} "); import os; (" {D:>8}\n'}


# -- the daemon: no line lost ---------------------------------------------------------------
FMT = "{p} {U} {s}"


def start(tmp_path, *args, workers=1):
    access = tmp_path / "access.log"
    d = Daemon("--access-log", str(access), "--access-log-format", FMT, *args, workers=workers)
    try:
        d.wait_ready(timeout=30)  # (a loaded machine takes seconds to start Python twice)
        d.wait_workers(workers, timeout=30)
    except BaseException:
        d.cleanup()  # (the caller's cleanup is for a daemon it got)
        raise
    return d, access


def keep_alive_requests(port, paths):
    """Sends each path on one keep-alive connection, each answered before the next."""
    pids = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for path in paths:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while not re.search(rb"pid \d+$", data):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError(f"closed after {data!r}")
                data += chunk
            pids.append(int(re.search(rb"pid (\d+)$", data).group(1)))
    return pids


def lines(access):
    return access.read_text().splitlines() if access.exists() else []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_no_line_lost_when_the_daemon_stops(tmp_path, signum):
    d, access = start(tmp_path, "--access-log-flush", "600")
    try:
        paths = [f"/r{i}" for i in range(200)]
        pids = keep_alive_requests(d.port, paths)
        d.signal(signum)
        d.wait_exit()
        assert [line.split()[1] for line in lines(access)] == paths
        assert {int(line.split()[0]) for line in lines(access)} == set(pids)
    finally:
        d.cleanup()


def test_usr1_writes_the_buffer_then_reopens(tmp_path):
    d, access = start(tmp_path, "--access-log-flush", "600")
    try:
        keep_alive_requests(d.port, [f"/old{i}" for i in range(50)])
        os.rename(access, tmp_path / "access.log.1")
        d.signal(signal.SIGUSR1)
        d.wait_log(r"log files reopened")
        old = tmp_path / "access.log.1"
        wait_until(lambda: len(lines(old)) == 50, 5, what="the buffered lines in the renamed file")
        # the new file: created by the reopen, written to by later requests
        wait_until(access.exists, 5, what="the reopened access log")
        keep_alive_requests(d.port, [f"/new{i}" for i in range(20)])
        d.signal(signal.SIGTERM)
        d.wait_exit()
        assert [line.split()[1] for line in lines(old)] == [f"/old{i}" for i in range(50)]
        assert [line.split()[1] for line in lines(access)] == [f"/new{i}" for i in range(20)]
    finally:
        d.cleanup()


def test_no_line_lost_when_max_requests_recycles_workers(tmp_path):
    d, access = start(tmp_path, "--access-log-flush", "600", "--max-requests", "25")
    try:
        pids = []
        # the recycled worker serves until its replacement is ready: go on until another answers
        for i in range(2000):
            if i >= 80 and len(set(pids)) >= 2:
                break
            for attempt in range(5):  # a draining worker may reset a connection it accepted
                try:
                    pids += keep_alive_requests(d.port, [f"/r{i}"])
                    break
                except ConnectionError:
                    continue
            else:
                raise AssertionError(f"/r{i} never answered")
        assert len(set(pids)) >= 2, "max_requests recycled no worker"
        first = pids[0]
        served_by_first = pids.count(first)
        # the first worker is gone: every line it answered is in the file
        wait_until(lambda: not alive(first), 10, what="the recycled worker's exit")
        assert sum(line.startswith(f"{first} ") for line in lines(access)) == served_by_first
        d.signal(signal.SIGTERM)
        d.wait_exit()
        assert len(lines(access)) == len(pids)
    finally:
        d.cleanup()


def test_a_hung_worker_writes_its_buffer_when_aborted(tmp_path):
    d, access = start(tmp_path, "--access-log-flush", "600", "--timeout", "1")
    try:
        keep_alive_requests(d.port, [f"/before{i}" for i in range(30)])
        hung = d.workers()[0]
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        sock.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
        d.wait_log(r"aborting it", timeout=15)
        wait_until(lambda: not alive(hung), 10, what="the aborted worker's exit")
        sock.close()
        assert [line.split()[1] for line in lines(access)] == [f"/before{i}" for i in range(30)]
        log = d.log()
        assert "Fatal Python error: Aborted" in log and "in on_request" in log  # the stack is still dumped
    finally:
        d.cleanup()


def test_sigkill_loses_at_most_one_flush_interval(tmp_path):
    interval = 0.2
    d, access = start(tmp_path, "--access-log-flush", str(interval))
    try:
        (worker,) = d.workers()
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as sock:
            def ask(path):
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                data = b""
                while not re.search(rb"pid \d+$", data):
                    chunk = sock.recv(65536)
                    assert chunk
                    data += chunk
                return time.monotonic()
            answered = [ask(f"/a{i}") for i in range(100)]
            # later requests until one is answered 1.5 intervals after the last of the first
            # batch (the half interval: the timer may run late on a busy machine)
            later = 0
            deadline = time.monotonic() + 10
            while ask(f"/b{later}") < answered[-1] + 1.5 * interval:
                later += 1
                assert time.monotonic() < deadline and later < 100_000
            os.kill(worker, signal.SIGKILL)
        wait_until(lambda: not alive(worker), 5, what="the killed worker's exit")
        written = [line.split()[1] for line in lines(access)]
        assert written[:100] == [f"/a{i}" for i in range(100)]
        assert all(path.startswith("/b") for path in written[100:])
    finally:
        d.cleanup()


def test_flush_zero_writes_each_line_at_once(tmp_path):
    d, access = start(tmp_path, "--access-log-flush", "0")
    try:
        for i in range(5):
            keep_alive_requests(d.port, [f"/n{i}"])
            wait_until(lambda: len(lines(access)) == i + 1, 5, what=f"line {i + 1}")
    finally:
        d.cleanup()


def test_lines_from_two_processes_on_one_pipe_never_mix(serve, tmp_path):
    """Each flush writes whole lines, at most PIPE_BUF bytes per write on a pipe: two
    writer processes flushing 64 KiB buffers at once still give whole lines."""
    captured = []
    st_ = serve(app)
    st_.server.response_observer = lambda req, res: captured.append((req, res))
    with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
        sock.sendall(b"GET /" + b"x" * 150 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    wait_until(lambda: captured, 5, what="the response observed")
    req, res = captured[0]
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    per_writer, writers = 10000, []
    for tag in ("A", "B"):
        pid = os.fork()
        if pid == 0:  # the child writes and exits at once, whatever happens
            code = 1
            try:
                access = logs.AccessLog(fifo, tag * 40 + " {U} {s} {b}", 1.0)
                for _ in range(per_writer):
                    access.line(req, res, 0.001)
                access.close()
                code = 0
            finally:
                os._exit(code)
        writers.append(pid)
    data = bytearray()
    deadline = time.monotonic() + 20
    expected = 2 * per_writer * len(("A" * 40 + " /" + "x" * 150 + " 200 5\n").encode())
    while len(data) < expected and time.monotonic() < deadline:
        try:
            chunk = os.read(reader, 65536)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        data += chunk
    os.close(reader)
    for pid in writers:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    lines = bytes(data).split(b"\n")
    assert lines[-1] == b""
    whole = {(t * 40 + " /" + "x" * 150 + " 200 5").encode() for t in "AB"}
    assert len(lines) - 1 == 2 * per_writer
    assert set(lines[:-1]) <= whole, [line for line in lines if line not in whole][:3]
