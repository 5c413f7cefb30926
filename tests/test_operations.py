"""systemd units and protocols, and Prometheus metrics, against the real daemon."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from daemon import HERE, ROOT, alive, children, cmdline, wait_until
from harness import read_until_close


# -- sd_notify -----------------------------------------------------------------------------------------
class NotifyListener:
    """A real AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"prefork-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.dir = tempfile.mkdtemp()
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
        self.messages = []  # (monotonic time, {key: value})
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def keys(self, key):
        with self.lock:
            return [(t, m) for t, m in self.messages if key in m]

    def wait(self, key, value=None, count=1, timeout=10):
        return wait_until(lambda: (lambda found: found if len(found) >= count else None)(
            [(t, m) for t, m in self.keys(key) if value is None or m[key] == value]), timeout,
            what=f"{key}={value} x{count}; got {self.messages}")

    def close(self):
        self.sock.close()


def test_notify_sequence_ready_reloading_stopping(daemons):
    listener = NotifyListener()
    try:
        d = daemons(workers=3, env={"NOTIFY_SOCKET": listener.address})
        (t_ready, ready), = listener.wait("READY", "1")
        assert d.log().count("booting worker") == 3
        assert len(re.findall(r"workers ready: \d+", d.log())) == 1
        assert ready.get("MAINPID") == str(d.pid) and "3 workers" in ready["STATUS"]
        assert len(d.workers()) == 3
        before = time.monotonic_ns() // 1000
        d.signal(signal.SIGHUP)
        (_, reloading), = listener.wait("RELOADING", "1")
        assert abs(int(reloading["MONOTONIC_USEC"]) - before) < 5_000_000
        listener.wait("READY", "1", count=2)
        assert "generation 2 ready" in d.log()
        order = [next(iter(m)) for _, m in listener.messages if set(m) & {"READY", "RELOADING", "STOPPING"}]
        assert order[:3] == ["READY", "RELOADING", "READY"]
        d.signal(signal.SIGTERM)
        listener.wait("STOPPING", "1")
        assert d.wait_exit() == 0
    finally:
        listener.close()


def test_notify_over_an_abstract_socket(daemons):
    listener = NotifyListener(abstract=True)
    try:
        daemons(workers=1, env={"NOTIFY_SOCKET": listener.address})
        listener.wait("READY", "1")
    finally:
        listener.close()


def test_watchdog_pings_through_a_hang_the_master_ends_itself(daemons):
    """A hung worker is the master's to end (SIGABRT at ``timeout``, then replaced): the
    pings go on meanwhile, or the service manager would kill every worker with it."""
    listener = NotifyListener()
    try:
        d = daemons("--timeout", "5", workers=2, env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"})
        listener.wait("READY", "1")
        start = time.monotonic()
        listener.wait("WATCHDOG", "1", count=len(listener.keys("WATCHDOG")) + 4, timeout=5)
        assert time.monotonic() - start < 2.5  # about every 0.2 s
        before = set(d.workers())
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        sock.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
        hung_at = time.monotonic()
        d.wait_log("no heartbeat", timeout=15)  # the master aborts the hung worker
        wait_until(lambda: len(set(d.workers()) - before) == 1 and len(d.workers()) == 2, 15,
                   what="the hung worker replaced")
        replaced_at = time.monotonic()
        listener.wait("WATCHDOG", "1", count=len(listener.keys("WATCHDOG")) + 3, timeout=5)
        times = [t for t, _ in listener.keys("WATCHDOG") if t > hung_at - 1]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert times[-1] > replaced_at and max(gaps) < 1.0, gaps
        sock.close()
    finally:
        listener.close()


# -- socket activation ------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate missing")
def test_socket_activation_serves_on_the_inherited_socket_across_hup_and_ttin(tmp_path):
    path = str(tmp_path / "http.sock")
    log_path = tmp_path / "log"
    cmd = ["systemd-socket-activate", "-l", path, "--fdname", "http",
           "-E", f"PYTHONPATH={ROOT}{os.pathsep}{HERE}", "--",
           sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "2", "--metrics-bind", "",
           "--access-log", "", "--bind", "127.0.0.1:1"]  # bind is ignored under socket activation
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seen = {proc.pid}

    def request():
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
        sock.close()
        return data

    def workers():
        pids = [p for p in children(proc.pid) if "prefork: worker" in (cmdline(p) or "")]
        seen.update(pids)
        return pids
    try:
        wait_until(lambda: os.path.exists(path), 10, what="the activation socket")
        assert request().startswith(b"HTTP/1.1 200 OK")  # the first connection starts the daemon
        assert cmdline(proc.pid).startswith("prefork: master")  # exec'd in place: LISTEN_PID matches
        assert "listening at unix:" in log_path.read_text() and "(systemd:http)" in log_path.read_text()
        first = sorted(wait_until(lambda: (lambda w: w if len(w) == 2 else None)(workers()), 10, what="2 workers"))
        os.kill(proc.pid, signal.SIGHUP)
        wait_until(lambda: "generation 2 ready" in log_path.read_text(), 10, what="reload")
        assert request().startswith(b"HTTP/1.1 200 OK")
        os.kill(proc.pid, signal.SIGTTIN)
        wait_until(lambda: len([p for p in workers() if p not in first]) == 3, 10, what="3 new workers")
        for _ in range(10):
            assert request().startswith(b"HTTP/1.1 200 OK")
        assert "127.0.0.1:1" not in log_path.read_text().split("listening at")[1].splitlines()[0]
        # the bind given is said to be unused (it was silently ignored)
        assert "argv:--bind: 127.0.0.1:1 not used: systemd passed the listeners (socket activation)" \
            in log_path.read_text()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for pid in seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- metrics ---------------------------------------------------------------------------------------------------
def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def raw_exchange(port, data):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(data)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        sock.close()


def test_metrics_count_exactly_requests_drops_and_client_errors(daemons):
    d = daemons("--max-requests-per-socket", "1", workers=2)
    d.wait_ready()
    n_ok, n_dropped, n_bad = 40, 7, 5
    for _ in range(n_ok - n_dropped):
        assert raw_exchange(d.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")
    for _ in range(n_dropped):  # the second request on a connection is over the cap
        out = raw_exchange(d.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"HTTP/1.1 503 Service Unavailable" in out
    for _ in range(n_bad):
        assert raw_exchange(d.port, b"GARBAGE\r\n\r\n") == b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
    expected_200 = n_ok - n_dropped + n_dropped  # each dropped exchange had one 200 first

    def settled():
        s = d.scrape()
        if metric(s, "prefork_requests_total", method="GET", code="200") != expected_200:
            return None
        return s
    samples = wait_until(settled, 3, interval=0.2, what="the counts after a heartbeat")
    assert metric(samples, "prefork_requests_total", method="GET", code="503") == n_dropped
    assert metric(samples, "prefork_dropped_requests_total") == n_dropped
    assert metric(samples, "prefork_client_errors_total", code="HPE_INVALID_METHOD") == n_bad
    assert metric(samples, "prefork_connections_total") == (n_ok - n_dropped) + n_dropped + n_bad
    assert metric(samples, "prefork_request_duration_seconds_count") == expected_200 + n_dropped
    assert metric(samples, "prefork_workers") == 2
    assert metric(samples, "process_resident_memory_bytes") > 0  # the master's own
    assert {k[1] for k in samples if k[0] == "prefork_worker_heartbeat_age_seconds"} == {(("slot", "0"),), (("slot", "1"),)}
    assert all(v > 0 for k, v in samples.items() if k[0] == "prefork_worker_resident_memory_bytes")


def test_counters_never_go_backwards(daemons):
    d = daemons("--max-requests", "100", workers=2)  # 260 requests over 2 workers: one passes 100
    d.wait_ready()
    counters = ("prefork_connections_total", "prefork_request_duration_seconds_count", "prefork_reloads_total")

    def totals():
        s = d.scrape()
        values = {name: metric(s, name) for name in counters}
        values["requests"] = sum(v for k, v in s.items() if k[0] == "prefork_requests_total")
        values["restarts"] = sum(v for k, v in s.items() if k[0] == "prefork_worker_restarts_total")
        return values

    def burst(n=60):
        for _ in range(n):
            raw_exchange(d.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    history = []

    def step(action):
        burst()
        wait_until(lambda: totals()["requests"] >= sum(60 for _ in history) + 60, 3, interval=0.2,
                   what="the burst counted")
        before = totals()
        action()
        wait_until(lambda: len(d.serving_workers()) == 2, 10, what="two workers again")
        after = totals()
        history.append((before, after))
        for key in before:
            assert after[key] >= before[key], (key, before, after)

    step(lambda: os.kill(d.serving_workers()[0], signal.SIGKILL))
    step(lambda: (burst(200), d.wait_log(r"reached max_requests")))  # recycling
    step(lambda: (d.signal(signal.SIGHUP), d.wait_log(r"generation 2 ready")))
    final = totals()
    assert final["prefork_reloads_total"] == 1 and final["restarts"] >= 3
    assert final["requests"] >= 60 * 3 + 200 - 60  # kill -9 may lose up to a second of one worker's counts


def test_metrics_can_be_disabled(daemons):
    d = daemons("--metrics-bind", "", workers=1)
    d.wait_ready()
    assert "metrics at" not in d.log()
    assert d.request().startswith(b"HTTP/1.1 200 OK")
