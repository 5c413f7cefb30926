"""/healthz and /readyz on the metrics listener, against the real daemon: readiness is
withdrawn before any connection is refused (TERM) or any old worker drains (HUP), and a
hung worker (SIGSTOP) makes liveness fail with its PID named."""

import os
import signal
import socket
import threading
import time

import pytest

from daemon import alive, cmdline, wait_until
from prefork.master.health import fresh_limit


def get(port, path, method="GET", timeout=5):
    """(status, body) of one request on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data
    return int(head.split()[1]), body.decode()


class Poller:
    """A thread asking ``path`` about every 10 ms: [(monotonic time, status or exception name)]."""

    def __init__(self, port, path):
        self.port, self.path = port, path
        self.seen = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_event.is_set():
            try:
                status, body = get(self.port, self.path)
                self.seen.append((time.monotonic(), status, body))
            except OSError as exc:
                self.seen.append((time.monotonic(), type(exc).__name__, ""))
            self.stop_event.wait(0.01)

    def first(self, status):
        return next((t for t, s, _ in self.seen if s == status), None)

    def stop(self):
        self.stop_event.set()
        self.thread.join(10)


class Load:
    """Threads sending GET / on a new connection each: every outcome with its time."""

    def __init__(self, port, threads=3):
        self.port = port
        self.ok = []
        self.failed = []  # (time, what)
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def run(self):
        while not self.stop_event.is_set():
            try:
                status, _ = get(self.port, "/")
                if status != 200:
                    raise OSError(f"status {status}")
                self.ok.append(time.monotonic())
            except (OSError, AssertionError) as exc:
                self.failed.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
                self.stop_event.wait(0.01)

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(15)


def test_fresh_limit_is_half_the_timeout_within_two_heartbeats_and_the_timeout():
    assert fresh_limit(30.0) == 15.0
    assert fresh_limit(8.0) == 4.0
    assert fresh_limit(3.0) == 2.0
    assert fresh_limit(1.0) == 1.0


def test_endpoints_answer_get_and_head_only_and_404_elsewhere(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    port = d.metrics_port()
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready")
    status, body = get(port, "/healthz")
    assert status == 200 and body.startswith("ok: 2 workers"), body
    assert get(port, "/readyz") == (200, "ready\n")
    assert get(port, "/readyz", "HEAD") == (200, "")
    assert get(port, "/readyz?probe=1")[0] == 200
    assert get(port, "/readyz", "POST")[0] == 405
    assert get(port, "/nothing-here")[0] == 404
    assert get(port, "/metrics")[0] == 200


def test_readyz_is_503_while_the_first_generation_boots(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=2, env={"BOOT_SECONDS": "2"})
    port = d.metrics_port()
    status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(get(port, "/readyz")), 10,
                              what="a first answer")
    assert "workers ready" not in d.log() and body == "booting\n"
    assert get(port, "/healthz")[0] == 200  # booting workers are alive
    d.wait_ready()
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready after boot")


def test_readyz_turns_503_before_any_connection_is_refused_on_term(daemons):
    withdraw = 1.5
    d = daemons("--readiness-withdraw", str(withdraw), workers=2)
    d.wait_ready()
    port = d.metrics_port()
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready")
    poller, load = Poller(port, "/readyz"), Load(d.port)
    try:
        wait_until(lambda: len(load.ok) > 20 and poller.first(200), 20, what="load and probes running")
        assert load.failed == []
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
    finally:
        load.stop()
        poller.stop()
    first_503 = poller.first(503)
    first_failure = load.failed[0][0] if load.failed else None
    assert first_503 is not None, poller.seen[-5:]
    assert first_failure is not None  # the listeners did close in the end
    assert first_503 < first_failure, (first_503, load.failed[:3])
    # the workers kept accepting after readiness was withdrawn
    assert any(first_503 < t < first_failure for t in load.ok)
    # once withdrawn, readiness never came back; the probe saw 503 until the master left
    after = [s for t, s, _ in poller.seen if t >= first_503]
    assert 200 not in after
    assert all(body == "stopping (graceful)\n" for t, s, body in poller.seen if s == 503)


def test_readyz_stays_503_while_draining_with_no_withdraw_delay(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready")
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(answer=d.request("/sleep/2", timeout=20)))
    thread.start()
    wait_until(lambda: d.scrape().get(("prefork_connections_active", ())) == 1, 10, what="the slow request")
    d.signal(signal.SIGTERM)
    # the metrics listener stays open while the worker drains: 503, not a refused probe
    status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(get(port, "/readyz")), 10,
                              what="readiness withdrawn")
    assert body == "stopping (graceful)\n"
    assert d.proc.poll() is None
    thread.join(20)
    assert slow["answer"].startswith(b"HTTP/1.1 200 OK")
    assert d.wait_exit() == 0


class DrainWatch:
    """A thread noting when the first of ``pids`` shows "(draining)" in its title or is gone."""

    def __init__(self, pids):
        self.pids = pids
        self.at = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.at is None and not self.stop_event.is_set():
            for pid in self.pids:
                if not alive(pid) or "draining" in (cmdline(pid) or "draining"):
                    self.at = time.monotonic()
                    return
            time.sleep(0.002)

    def stop(self):
        self.stop_event.set()
        self.thread.join(10)


def test_readyz_turns_503_before_the_old_generation_drains_on_hup(daemons):
    withdraw = 1.0
    d = daemons("--readiness-withdraw", str(withdraw), workers=2)
    d.wait_ready()
    port = d.metrics_port()
    old = d.wait_workers(2)
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready")
    poller, load = Poller(port, "/readyz"), Load(d.port)
    watch = DrainWatch(old)
    try:
        wait_until(lambda: len(load.ok) > 20 and poller.first(200), 20, what="load and probes running")
        d.signal(signal.SIGHUP)
        d.wait_log(r"generation 2 ready", 30)
        wait_until(lambda: not any(alive(pid) for pid in old), 30, what="the old generation gone")
        wait_until(lambda: poller.seen[-1][1] == 200, 10, what="ready again")
        ok_before_stop = len(load.ok)
        wait_until(lambda: len(load.ok) > ok_before_stop + 10, 20, what="requests served by the new generation")
    finally:
        load.stop()
        poller.stop()
        watch.stop()
    assert load.failed == []  # a reload refuses nothing
    first_503 = poller.first(503)
    assert first_503 is not None and watch.at is not None
    assert first_503 < watch.at, (first_503, watch.at)
    reasons = {body for t, s, body in poller.seen if s == 503}
    assert reasons == {"reload: switching to generation 2\n"}, reasons
    # 200 before the reload, 503 across the switch-over, 200 after: one withdrawn stretch
    statuses = [s for _, s, _ in poller.seen]
    changes = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert changes == [200, 503, 200], changes


def test_readyz_is_200_again_once_the_new_generation_serves_while_the_old_drains(daemons):
    """A reload's old generation may hold a stream for up to graceful_timeout: the new
    one serves every new connection meanwhile, so readiness is not withdrawn for it."""
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    old, = d.wait_workers(1)
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready")
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(answer=d.request("/sleep/6", timeout=30)))
    thread.start()
    wait_until(lambda: d.scrape().get(("prefork_connections_active", ())) == 1, 10, what="the slow request")
    d.signal(signal.SIGHUP)
    d.wait_log(r"generation 2 ready", 20)
    assert alive(old)  # still finishing the slow request
    assert get(port, "/readyz") == (200, "ready\n")
    assert b"200 OK" in d.request("/")  # (served by the new generation)
    thread.join(20)
    assert slow["answer"].startswith(b"HTTP/1.1 200 OK")
    wait_until(lambda: not alive(old), 20, what="the old worker gone")
    assert get(port, "/readyz") == (200, "ready\n")


def test_healthz_names_a_worker_that_stopped_heartbeating(daemons):
    d = daemons("--timeout", "8", workers=2)  # stale after 4 s; the master aborts it at 8 s
    d.wait_ready()
    port = d.metrics_port()
    pids = d.wait_workers(2)
    wait_until(lambda: get(port, "/healthz")[0] == 200, 10, what="healthy")
    hung = pids[0]
    os.kill(hung, signal.SIGSTOP)
    try:
        status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(get(port, "/healthz")), 20,
                                  what="liveness to fail")
        assert body.startswith("stale\n") and f"(pid {hung}, generation 1): no heartbeat for" in body, body
        assert str(pids[1]) not in body
        assert get(port, "/readyz")[0] == 200  # a hang is not a drain: readiness is liveness's business
    finally:
        os.kill(hung, signal.SIGCONT)
    # resumed (or, on a slow machine, aborted and replaced by the master): live again
    wait_until(lambda: get(port, "/healthz")[0] == 200, 30, what="live again")


@pytest.mark.parametrize("value, problem", [("-1", "must be at least 0, got -1.0"), ("soon", "expected a number")])
def test_a_bad_readiness_withdraw_is_a_config_error(value, problem):
    import subprocess
    import sys
    from daemon import python_env
    result = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--readiness-withdraw", value],
                            capture_output=True, text=True, env=python_env(), timeout=30)
    assert result.returncode == 2
    assert f"argv:--readiness-withdraw: {problem}" in result.stderr


def test_a_fast_stop_cuts_the_withdraw_wait_short(daemons):
    d = daemons("--readiness-withdraw", "60", workers=1)
    d.wait_ready()
    port = d.metrics_port()
    wait_until(lambda: get(port, "/readyz")[0] == 200, 10, what="ready")
    d.signal(signal.SIGTERM)
    wait_until(lambda: get(port, "/readyz") == (503, "stopping (graceful)\n"), 10, what="readiness withdrawn")
    assert d.request().startswith(b"HTTP/1.1 200 OK")  # still accepting and serving
    d.signal(signal.SIGTERM)  # a second TERM changes nothing
    d.signal(signal.SIGHUP)  # nor does a reload, once stopping
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGQUIT)
    assert d.wait_exit(20) == 0  # long before the 60 s
    assert "draining begins in 60.0 s" in d.log() and "fast stop" in d.log()
    assert "reload: starting" not in d.log()
