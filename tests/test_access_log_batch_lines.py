"""The worker's access log makes the lines of a batch of held responses at once, and
counts them for the metrics there: each line is the line the format makes for that
response at once (``AccessLog.line``, the unbatched path), and the counts are those of
counting each response as it ended. A table of varied requests: methods (one an app
made up), targets with ``%``, quotes, control and non-ASCII characters, statuses of
unusual values and types, sizes around the looked-up numbers, missing Referer and
User-Agent, HTTP/1.0, durations around the µs table and the histogram's bounds, formats
with every field, literal text with ``%`` and braces, repeated fields."""

import asyncio
import bisect
import dis
import random

import pytest

from prefork import logs, metrics
from prefork.settings import DEFAULT_ACCESS_FORMAT

FORMATS = [
    DEFAULT_ACCESS_FORMAT,
    '{h}|{t}|{r}|{m}|{U}|{s}|{b}|{f}|{a}|{D}|{L}|{p} 100% {{literal}}',
    "{s}{b}{D}",
    "{r}{s} {s}{t}x",
    "[{t}] {t} {D}",
    "x{b}y{s}z",
    '{U} "{a}" {b}',
]
TIME = "06/Dec/2026:14:00:00 +0000"


class Peer:
    def __init__(self, address):
        self.remote_address = address
        self.last_activity = 0.0


class Req:
    def __init__(self, rng):
        self.socket = Peer(rng.choice(["127.0.0.1", "::1", None]))
        self.method = rng.choice(["GET", "HEAD", "POST", "PUT", "BREW"])
        self.url = rng.choice(["/", "/a?x=%41&y=\"q\"", "/caf\u00e9", "/\x01\x7f", "/" + "z" * 600, "/p?q='x'\\"])
        self.http_version = rng.choice(["1.1", "1.1", "1.0"])
        self.headers = {}
        agent = rng.choice([None, "curl/8", 'a"b', "caf\u00e9 \u4e2d", "\\ \t"])
        if agent is not None:
            self.headers["user-agent"] = agent
        if rng.random() < 0.5:
            self.headers["referer"] = rng.choice(["http://x/", 'r"\x00', "-"])
        self.forwarded_client = rng.choice([None, None, "10.0.0.1"])
        self.start_time = 1000.0


class Res:
    def __init__(self, rng):
        self.status_code = rng.choice([200, 200, 404, 204, 304, 101, 999, 1000, 201.0, 0, 4095, True, -7, 5000,
                                       False, 1, 2, 50, 99, -1, -1000, -1001])
        self.bytes_sent = rng.choice([0, 1, 13, 4095, 4096, 100000])
        self.has_body = rng.random() < 0.8
        length = rng.choice([None, "5", "0", 0, 7, 5.0, -3, True, -4097, "12345", False, -1, -4096, 4095, 4096])
        self.headers = {} if length is None else {"content-length": length}

    def get_header(self, name):
        return self.headers.get(name)


DURATIONS = [0.0, 0.0000004, 0.000123, 0.0005, 0.0004999, 0.001, 0.0019999, 0.002, 0.0025, 0.003,
             0.0040961, 0.05, 1.7, 61.0]


class Server:
    class stats:
        connections_total = dropped_requests = 0
        client_errors = tls_handshake_failures = proxy_errors = {}
    open_connections = 0


def table(seed=5, count=800):
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        duration = rng.choice(DURATIONS + [rng.random() * 0.01, rng.random()])
        rows.append((Req(rng), Res(rng), duration))
    return rows


def counted_as_each_ended(rows, bounds=metrics.BUCKETS):
    """The counts of each response counted as it ended: by method and code, under
    TABLE µs by its whole µs (as m + 0.5 µs), else by its duration, seconds added in order."""
    requests, buckets, seconds, half = {}, [0] * (len(bounds) + 1), 0.0, 0
    for req, res, _ in rows:
        metrics.count_first(requests, req.method, res.status_code)
        duration = req.socket.last_activity - req.start_time  # (the observer's)
        micros = int(duration * 1e6)
        if micros < metrics.TABLE:
            buckets[bisect.bisect_left(bounds, (micros + 0.5) / 1e6)] += 1
            half += 2 * micros + 1
        else:
            buckets[bisect.bisect_left(bounds, duration)] += 1
            seconds += duration
    return ({f"{m} {c}": n for m, by_code in requests.items() for c, n in by_code.items()},
            buckets, seconds + half / 2 / 1e6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_batch_makes_the_lines_and_counts_of_each_response_as_it_ended(tmp_path, fmt):
    rows = table()
    loop = asyncio.new_event_loop()
    held = logs.AccessLog(str(tmp_path / "held.log"), fmt, 1.0)
    at_once = logs.AccessLog(str(tmp_path / "at_once.log"), fmt, 0.0)
    counted = metrics.WorkerMetrics(Server())
    try:
        observe = held.observer(loop, counted)
        prefix, suffix = held.clock_text
        held.timed_clock[0] = at_once.clock[0] = prefix + TIME + suffix
        at_once.clock[1:] = [0.0, 1e12]  # (the at-once line's clock, held for the table)
        for number, (req, res, duration) in enumerate(rows):
            req.socket.last_activity = req.start_time + duration
            observe(req, res)
            at_once.line(req, res, req.socket.last_activity - req.start_time)
            if number % 97 == 3:  # counts read mid-batch: what is held is counted first
                assert counted.snapshot()["requests"] == counted_as_each_ended(rows[:number + 1])[0]
        snapshot = counted.snapshot()
    finally:
        held.close()
        at_once.close()
        loop.close()
    expected = (tmp_path / "at_once.log").read_bytes().split(b"\n")
    assert (tmp_path / "held.log").read_bytes().split(b"\n") == expected
    assert len(expected) == len(rows) + 1
    assert (snapshot["requests"], snapshot["buckets"], snapshot["duration_sum"]) == counted_as_each_ended(rows)


def test_long_durations_are_counted_at_every_read_and_when_many(tmp_path):
    """Durations past the µs table wait to be counted: a read of the counts has them
    all, and so does a long run of them between reads (SLOW_KEPT)."""
    rng = random.Random(11)
    rows = []
    for _ in range(metrics.SLOW_KEPT * 2 + 700):
        req, res = Req(rng), Res(rng)
        req.method, res.status_code = "GET", 200
        rows.append((req, res, 0.002 + rng.random() * 3))
    loop = asyncio.new_event_loop()
    access = logs.AccessLog(str(tmp_path / "access.log"), DEFAULT_ACCESS_FORMAT, 1.0)
    counted = metrics.WorkerMetrics(Server())
    try:
        observe = access.observer(loop, counted)
        for number, (req, res, duration) in enumerate(rows):
            req.socket.last_activity = req.start_time + duration
            observe(req, res)
            assert len(counted.slow) <= metrics.SLOW_KEPT + logs.FLUSH_LINES
            if number == 1000:
                assert counted.snapshot()["buckets"] == counted_as_each_ended(rows[:1001])[1]
        snapshot = counted.snapshot()
    finally:
        access.close()
        loop.close()
    assert (snapshot["requests"], snapshot["buckets"], snapshot["duration_sum"]) == counted_as_each_ended(rows)


def test_held_lines_keep_the_second_they_ended_in_when_the_clock_moves_on(tmp_path):
    """The time text is read once per batch: the clock's timer makes the held lines
    before it renews the text, so a response held across a second keeps its second."""
    import time

    rng = random.Random(3)
    loop = asyncio.new_event_loop()
    access = logs.AccessLog(str(tmp_path / "access.log"), "{t} {U}", 1.0)
    ended = []
    try:
        observe = access.observer(loop, metrics.WorkerMetrics(Server()))
        for url in ("/first", "/second"):
            req, res = Req(rng), Res(rng)
            req.url = url
            req.start_time = req.socket.last_activity = time.monotonic()
            observe(req, res)
            ended.append(access.timed_clock[1])
            deadline = time.monotonic() + 5
            while access.timed_clock[1] == ended[-1]:  # the loop runs the clock's timer
                assert time.monotonic() < deadline, "the clock's timer did not run"
                loop.run_until_complete(asyncio.sleep(0.05))
    finally:
        access.close()
        loop.close()
    assert (tmp_path / "access.log").read_text().splitlines() == [
        time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second)) + " " + url
        for second, url in zip(ended, ("/first", "/second"))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_batch_render_reads_no_global_name(tmp_path, fmt):
    """The render made for a format reads every name of its scope as a local (its
    keyword-only defaults, bound when it is made): none is read as a global at each line."""
    loop = asyncio.new_event_loop()
    log = logs.AccessLog(str(tmp_path / "a.log"), fmt, 1.0)
    try:
        log.observer(loop, metrics.WorkerMetrics(Server()))
        code = log.render.__code__
        assert code.co_kwonlyargcount > 0, fmt
        assert [op.argval for op in dis.get_instructions(code) if op.opname == "LOAD_GLOBAL"] == [], fmt
    finally:
        log.close()
        loop.close()
