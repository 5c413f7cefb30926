"""Histogram buckets you can trust: a real Prometheus server scrapes a real daemon.

Debian's ``prometheus`` binary runs on loopback as a child of the test (not a service);
the fixture installs the package when it is missing and skips, with the reason, only when
that fails. Prometheus takes its listen address only as HOST:PORT (no port 0, no
inherited socket), so the test asks the kernel for a free port by binding port 0, closes
that socket, starts Prometheus on the port, and then checks Prometheus's own log: either
it says it listens on that address, or it says the address is in use and the test tries
again with a new port (at most 5 times). Every loop is bounded in time and count; every
process is killed by PID at the end.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

import debian
from daemon import Daemon, wait_until
from prefork.settings import BY_NAME, DEFAULT_ACCESS_FORMAT

PROMETHEUS = "/usr/bin/prometheus"
BOUNDS = BY_NAME["metrics_buckets"].default


@pytest.fixture(scope="module")
def prometheus_binary():
    path, why = debian.ensure(PROMETHEUS, "prometheus")
    if path is None:
        pytest.skip(why)
    return path


class Prometheus:
    def __init__(self, binary, tmp, targets):
        self.tmp = tmp
        config = os.path.join(tmp, "prometheus.yml")
        jobs = "".join(f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
                       for job, port in targets.items())
        with open(config, "w") as fh:
            fh.write("global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n" + jobs)
        self.proc = None
        for attempt in range(5):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
            probe.close()
            self.log_path = os.path.join(tmp, f"prometheus-{attempt}.log")
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [binary, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(tmp, f'data{attempt}')}",
                     f"--web.listen-address=127.0.0.1:{self.port}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
            state = wait_until(self._listening, 20, interval=0.05, what="prometheus listening or failing")
            if state == "up":
                wait_until(lambda: "Server is ready to receive web requests" in self.log(), 20,
                           what="prometheus ready")
                return
            self.stop()
        raise RuntimeError(f"prometheus could not listen after 5 ports:\n{self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def _listening(self):
        log = self.log()
        if re.search(rf'msg="Listening on" address=127\.0\.0\.1:{self.port}\b', log):
            return "up"
        if "address already in use" in log or self.proc.poll() is not None:
            return "retry"
        return None

    def query(self, expr):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def value(self, expr):
        result = self.query(expr)
        return result[0][1] if result else None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def load(port, path, seconds, connections=4):
    """Sequential keep-alive requests on ``connections`` connections; (count, round-trip times)."""
    times, lock, stop_at = [], threading.Lock(), time.monotonic() + seconds

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            mine = []
            for _ in range(100_000):
                if time.monotonic() > stop_at:
                    break
                start = time.perf_counter()
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    assert chunk, data
                    data += chunk
                    head, sep, body = data.partition(b"\r\n\r\n")
                    match = re.search(rb"content-length: (\d+)", head, re.I)
                    if sep and match and len(body) >= int(match.group(1)):
                        break
                mine.append(time.perf_counter() - start)
                assert head.startswith(b"HTTP/1.1 200 "), head
            with lock:
                times.extend(mine)
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return len(times), sorted(times)


def bucket_index(value, bounds):
    return next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))


def test_prometheus_histogram_quantile_lands_within_one_bucket_of_the_truth(prometheus_binary, tmp_path):
    slow = Daemon(app="apps.basic:setup", workers=1)
    fast = Daemon(app="apps.hello:setup", workers=1)
    prom = None
    try:
        for d in (slow, fast):
            d.wait_ready()
            d.wait_workers(1)
        prom = Prometheus(prometheus_binary, str(tmp_path), {"slow": slow.metrics_port(), "fast": fast.metrics_port()})
        wait_until(lambda: len(prom.query("up == 1")) == 2, 20, interval=0.1, what="both targets scraped")

        sent = {}
        sent["slow"], slow_times = load(slow.port, "/sleep/0.02", 3.0)
        sent["fast"], fast_times = load(fast.port, "/", 2.0, connections=1)
        # every request counted by the master and scraped by Prometheus
        for job, d in (("slow", slow), ("fast", fast)):
            wait_until(lambda: d.scrape()[("prefork_request_duration_seconds_count", ())] == sent[job], 10,
                       what=f"{job}: the master's count")
            wait_until(lambda: prom.value(f'prefork_request_duration_seconds_count{{job="{job}"}}') == sent[job],
                       10, interval=0.1, what=f"{job}: Prometheus's count")

        def p50(job):
            return prom.value(f'histogram_quantile(0.5, sum(rate(prefork_request_duration_seconds_bucket'
                              f'{{job="{job}"}}[1m])) by (le))')

        truth = 0.02
        slow_p50 = p50("slow")
        assert slow_times[len(slow_times) // 2] >= truth  # the load's true latency is what it claims
        assert abs(bucket_index(slow_p50, BOUNDS) - bucket_index(truth, BOUNDS)) <= 1, (slow_p50, BOUNDS)
        # a fast server: the median round trip the client saw includes the server's time, so
        # the reported median lands no more than one bucket above it (buckets starting at 5 ms
        # reported 2.5 ms here)
        fast_p50 = p50("fast")
        round_trip = fast_times[len(fast_times) // 2]
        assert bucket_index(fast_p50, BOUNDS) <= bucket_index(round_trip, BOUNDS) + 1, (fast_p50, round_trip)
    finally:
        if prom is not None:
            prom.stop()
        slow.cleanup()
        fast.cleanup()
        shutil.rmtree(str(tmp_path), ignore_errors=True)


# -- counting -----------------------------------------------------------------------------
DURATIONS = [0.0001, 0.0002, 0.0007, 0.0013, 0.0019, 0.003, 0.02, 0.3, 75.0]  # one past the last bound


@pytest.mark.parametrize("access_log", [False, True])
def test_each_duration_is_counted_in_its_bucket_and_the_sum(tmp_path, access_log):
    """The worker's observer as the worker compiles it: without the access log it
    counts by comparing with the bounds; with it, by the whole µs the line has (a
    duration of m µs counts as m + 0.5 µs) and, from 2 ms, by the bounds again."""
    from prefork import logs, metrics

    from test_access_log import plain_exchange

    class Server:
        stats, connections, open_connections = None, 0, 0

    Peer, Req, Res = plain_exchange()
    counted = metrics.WorkerMetrics(Server())
    loop = asyncio.new_event_loop()
    access = logs.AccessLog(str(tmp_path / "access.log"), DEFAULT_ACCESS_FORMAT, 0.0) if access_log else None
    try:
        observe = access.observer(loop, counted) if access else metrics.response_observer(counted)
        for duration in DURATIONS:
            Peer.last_activity = time.monotonic()  # the response's last write
            Req.start_time = Peer.last_activity - duration
            observe(Req, Res)
    finally:
        if access:
            access.close()
        loop.close()
    buckets, total = counted.histogram()
    expected = [0] * (len(BOUNDS) + 1)
    for duration in DURATIONS:
        expected[next((i for i, bound in enumerate(BOUNDS) if duration <= bound), len(BOUNDS))] += 1
    assert buckets == expected
    assert abs(total - sum(DURATIONS)) <= len(DURATIONS) * 1e-6  # to the µs
    assert counted.requests == {"GET": {200: len(DURATIONS)}}


def test_responses_held_by_the_access_log_are_counted_when_the_counts_are_read(tmp_path):
    """With the access log on, a response is counted when its line is made, at the
    flush; a snapshot taken before the flush counts every response held (once: the
    flush that follows writes their lines and counts nothing twice)."""
    from prefork import logs, metrics

    from test_access_log import plain_exchange

    class Stats:
        connections_total = dropped_requests = 0
        client_errors, tls_handshake_failures, proxy_errors = {}, {}, {}

    class Server:
        stats, connections, open_connections = Stats(), 0, 0

    Peer, Req, Res = plain_exchange()
    counted = metrics.WorkerMetrics(Server())
    loop = asyncio.new_event_loop()
    path = tmp_path / "access.log"
    access = logs.AccessLog(str(path), DEFAULT_ACCESS_FORMAT, 1.0)  # lines held until the flush
    try:
        observe = access.observer(loop, counted)
        for n, duration in enumerate(DURATIONS):
            Req.method = "GET" if n % 2 else "POST"
            Peer.last_activity = time.monotonic()
            Req.start_time = Peer.last_activity - duration
            observe(Req, Res)
        assert not path.read_text()  # nothing written yet
        snapshot = counted.snapshot()
        assert snapshot["requests"] == {"POST 200": 5, "GET 200": 4}
        assert sum(snapshot["buckets"]) == len(DURATIONS)
        assert abs(snapshot["duration_sum"] - sum(DURATIONS)) <= len(DURATIONS) * 1e-6
    finally:
        access.close()
        loop.close()
    assert len(path.read_text().splitlines()) == len(DURATIONS)  # every line, once
    again = counted.snapshot()
    assert again["requests"] == snapshot["requests"] and again["buckets"] == snapshot["buckets"]


def _held_log_and_metrics(tmp_path):
    from prefork import logs, metrics

    class Stats:
        connections_total = dropped_requests = 0
        client_errors, tls_handshake_failures, proxy_errors = {}, {}, {}

    class Server:
        stats, connections, open_connections = Stats(), 0, 0

    counted = metrics.WorkerMetrics(Server())
    access = logs.AccessLog(str(tmp_path / "access.log"), DEFAULT_ACCESS_FORMAT, 1.0)
    return counted, access


def test_lines_counted_by_snapshots_are_still_written_at_the_size_limit(tmp_path):
    """Snapshots (one per heartbeat) make the held lines to count them; the lines they
    made still go to the file once there are FLUSH_LINES of them, not only at the
    flush interval."""
    from prefork import logs

    from test_access_log import plain_exchange

    Peer, Req, Res = plain_exchange()
    counted, access = _held_log_and_metrics(tmp_path)
    loop = asyncio.new_event_loop()
    try:
        observe = access.observer(loop, counted)
        for n in range(logs.FLUSH_LINES + 100):
            Req.start_time = Peer.last_activity = time.monotonic()
            observe(Req, Res)
            if n % 100 == 99:
                counted.snapshot()  # a heartbeat
        written = len((tmp_path / "access.log").read_text().splitlines())
        assert written >= logs.FLUSH_LINES
        assert counted.snapshot()["requests"] == {"GET 200": logs.FLUSH_LINES + 100}
    finally:
        access.close()
        loop.close()
    assert len((tmp_path / "access.log").read_text().splitlines()) == logs.FLUSH_LINES + 100


def test_a_response_that_cannot_be_counted_loses_no_other_count_or_line(tmp_path):
    """A status an application made unhashable cannot be counted: that response is left
    out of the counts, and every other one is counted and every line written."""
    from test_access_log import plain_exchange

    Peer, Req, Res = plain_exchange()

    class Odd(Res):
        status_code = [200]

    counted, access = _held_log_and_metrics(tmp_path)
    loop = asyncio.new_event_loop()
    try:
        observe = access.observer(loop, counted)
        for res in (Res, Res, Odd, Res):
            Req.start_time = Peer.last_activity = time.monotonic()
            observe(Req, res)
        assert counted.snapshot()["requests"] == {"GET 200": 3}
    finally:
        access.close()
        loop.close()
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == 4 and '" [200] ' in lines[2]


def test_the_exposition_text_parses_back_to_the_families_written():
    from prometheus_client.parser import text_string_to_metric_families

    from prefork import exposition

    families = [
        exposition.counter("x_requests", "Help with a \\ and a\nnewline.", labels=["code", "path"])
        .add(["200", 'a "quoted"\\ path\n'], 3).add(["404", "/"], 1),
        exposition.gauge("x_ready", "Ready.", 1),
        exposition.gauge("x_odd", "Odd values.", labels=["v"]).add(["inf"], float("inf")).add(["big"], 2.5e10),
        exposition.Family("x_seconds", "histogram", "A histogram.").histogram([("0.5", 1), ("1.0", 3), ("+Inf", 4)],
                                                                             2.25),
    ]
    parsed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(exposition.render(families).decode())
              for s in family.samples}
    assert parsed == {
        ("x_requests_total", (("code", "200"), ("path", 'a "quoted"\\ path\n'))): 3.0,
        ("x_requests_total", (("code", "404"), ("path", "/"))): 1.0,
        ("x_ready", ()): 1.0, ("x_odd", (("v", "inf"),)): float("inf"), ("x_odd", (("v", "big"),)): 2.5e10,
        ("x_seconds_bucket", (("le", "0.5"),)): 1.0, ("x_seconds_bucket", (("le", "1.0"),)): 3.0,
        ("x_seconds_bucket", (("le", "+Inf"),)): 4.0, ("x_seconds_count", ()): 4.0, ("x_seconds_sum", ()): 2.25,
    }
    help_line = next(line for line in exposition.render(families).decode().splitlines() if "x_requests" in line)
    assert help_line == "# HELP x_requests_total Help with a \\\\ and a\\nnewline."


# -- the metrics_buckets setting ------------------------------------------------------------
def test_configured_buckets_are_the_ones_exposed(tmp_path):
    d = Daemon("--metrics-buckets", "0.01, 0.1,1", app="apps.basic:setup", workers=1)
    try:
        d.wait_ready()
        d.wait_workers(1)
        d.request("/sleep/0.03")
        d.request("/")
        wait_until(lambda: d.scrape()[("prefork_request_duration_seconds_count", ())] == 2, 10,
                   what="both requests counted")
        samples = d.scrape()
        buckets = {dict(labels)["le"]: value for (name, labels), value in samples.items()
                   if name == "prefork_request_duration_seconds_bucket"}
        assert buckets == {"0.01": 1.0, "0.1": 2.0, "1.0": 2.0, "+Inf": 2.0}
    finally:
        d.cleanup()


def check_config(*args, env=None, cwd=None):
    from daemon import python_env
    return subprocess.run([os.sys.executable, "-m", "prefork", "check-config", *args], capture_output=True,
                          text=True, env=python_env(**(env or {})), cwd=cwd, timeout=30)


def test_default_buckets_from_half_a_millisecond_to_a_minute():
    result = check_config()
    assert result.returncode == 0, result.stderr
    assert ("metrics_buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, "
            "5.0, 10.0, 30.0, 60.0]  # default") in result.stdout
    assert "access_log_flush = 1.0  # default" in result.stdout


@pytest.mark.parametrize("value, problem", [
    ("[]", "expected at least one number"),
    ("[0.1, 0.05]", "bounds must be strictly increasing, got 0.1 then 0.05"),
    ("[0.1, 0.1]", "bounds must be strictly increasing, got 0.1 then 0.1"),
    ("[0, 1]", "every bound must be a positive finite number, got 0.0"),
    ("[-1, 1]", "every bound must be a positive finite number, got -1.0"),
    ('["fast", 1]', "expected a list of numbers"),
    ("[true, 2]", "expected a list of numbers, got [true, 2]"),  # (shown as TOML writes it)
    ('"0.1,0.2"', "expected a list of numbers"),
])
def test_bad_buckets_in_the_file_are_reported_with_file_and_key(tmp_path, value, problem):
    config = tmp_path / "prefork.toml"
    config.write_text(f"metrics_buckets = {value}\n")
    result = check_config("--config", str(config))
    assert result.returncode == 2
    assert f"{config}:metrics_buckets: {problem}" in result.stderr


def test_buckets_from_the_file_flag_and_environment(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("metrics_buckets = [1, 2.5, 10]\naccess_log_flush = 0.25\n")
    result = check_config("--config", str(config))
    assert result.returncode == 0, result.stderr
    assert f"metrics_buckets = [1.0, 2.5, 10.0]  # {config}:metrics_buckets" in result.stdout
    assert f"access_log_flush = 0.25  # {config}:access_log_flush" in result.stdout
    result = check_config("--metrics-buckets", "0.5,1")
    assert "metrics_buckets = [0.5, 1.0]  # argv:--metrics-buckets" in result.stdout
    result = check_config(env={"PREFORK_METRICS_BUCKETS": "0.2, 0.4"})
    assert "metrics_buckets = [0.2, 0.4]  # env:PREFORK_METRICS_BUCKETS" in result.stdout
    bad = check_config("--metrics-buckets", "0.5,x", "--access-log-flush", "-1")
    assert bad.returncode == 2
    assert "argv:--metrics-buckets: expected comma-separated numbers, got '0.5,x'" in bad.stderr
    assert "argv:--access-log-flush: must be at least 0, got -1.0" in bad.stderr
    bad = check_config(env={"PREFORK_METRICS_BUCKETS": "2,1"})
    assert bad.returncode == 2
    assert "env:PREFORK_METRICS_BUCKETS: bounds must be strictly increasing, got 2.0 then 1.0" in bad.stderr
