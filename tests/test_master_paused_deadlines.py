"""A master that was not running (SIGSTOP, a frozen daemon) judges its workers' silence
from the pause's length later, once per silence: a worker busy in a long call when the
daemon froze keeps the rest of its timeout, and a hung worker is still aborted within a
bound however often the master is stopped; the systemd watchdog judges staleness as the
aborts do, so it pings on while a hung worker frozen with the daemon is dealt with; a
drain's kill deadline does not count the time the daemon was frozen. Real daemons, real
signals."""

import os
import signal
import socket
import time

import pytest

from daemon import wait_until
from test_operations import NotifyListener


def freeze(pids, seconds):
    """SIGSTOP to each of ``pids`` for ``seconds``, then SIGCONT (also when interrupted)."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("stopped, running", [(1.3, 0.7), (2.2, 0.5)])
def test_a_hung_worker_is_aborted_though_the_master_is_stopped_again_and_again(daemons, stopped, running):
    d = daemons("--timeout", "3", workers=1)
    d.wait_ready()
    d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")  # the handler never returns
    hung_at = time.monotonic()
    aborted = None
    try:
        while time.monotonic() - hung_at < 20 and aborted is None:
            os.kill(d.pid, signal.SIGSTOP)
            time.sleep(stopped)  # the master alone is stopped, over and over (a debugger, swap)
            os.kill(d.pid, signal.SIGCONT)
            time.sleep(running)
            if "aborting it" in d.log():
                aborted = time.monotonic() - hung_at
    finally:
        os.kill(d.pid, signal.SIGCONT)
        sock.close()
    # timeout (3 s), one grace at most (1.5 s), a few of these cycles of the master's stops
    assert aborted is not None and aborted < 12, (aborted, d.log())


def test_watchdog_pings_go_on_while_a_hung_worker_frozen_with_the_daemon_is_dealt_with(daemons):
    listener = NotifyListener()
    try:
        d = daemons("--timeout", "4", workers=2,
                    env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000"})  # a ping a second
        listener.wait("READY", "1")
        workers = d.wait_workers(2)
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        sock.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: "heartbeat" not in d.log() and any(
            v > 1.5 for (name, _), v in d.scrape().items() if name == "prefork_worker_heartbeat_age_seconds"),
            5, what="a worker hung")
        freeze([d.pid] + workers, 8)  # the whole daemon frozen, its hang older than timeout + KILL_GRACE + 3 s by then
        thawed = time.monotonic()
        d.wait_log("aborting it", timeout=10)  # the hung one, within the grace after the pause
        wait_until(lambda: len(d.workers()) == 2 and not set(d.workers()) >= set(workers), 15,
                   what=lambda: "the hung worker replaced\n" + d.log())
        listener.wait("WATCHDOG", "1", count=len(listener.keys("WATCHDOG")) + 2, timeout=5)
        times = [thawed] + [t for t, _ in listener.keys("WATCHDOG") if t > thawed]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert max(gaps) < 1.8, (gaps, d.log())  # a ping a second from the thaw on, none missed
        assert d.log().count("aborting it") == 1, d.log()  # the hung one only
        sock.close()
    finally:
        listener.close()


def test_a_worker_draining_when_the_daemon_froze_finishes_its_request_after_the_thaw(daemons):
    d = daemons("--timeout", "30", workers=1, graceful_timeout="3")
    d.wait_ready()
    workers = d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"GET /sleep/2 HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: any(v >= 1 for (name, _), v in d.scrape().items() if name == "prefork_connections_active"),
               5, what="the request taken")
    d.signal(signal.SIGTERM)  # the worker drains: 3 s to end its 2 s request
    d.wait_log("graceful stop: draining", timeout=5)
    freeze([d.pid] + workers, 4)  # frozen past the drain's kill deadline
    data = b""
    while not data.endswith(b"slept %d" % workers[0]):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"slept %d" % workers[0]), (data, d.log())
    assert d.wait_exit(15) == 0, d.log()
    assert "did not stop in time" not in d.log(), d.log()


@pytest.mark.parametrize("timeout, loading, frozen", [(10, 4, 11), (8, 5, 4)])
def test_a_worker_loading_its_app_when_the_daemon_froze_is_not_aborted_after_the_thaw(daemons, timeout, loading,
                                                                                        frozen):
    d = daemons("--timeout", str(timeout), app="apps.boot_steps:setup", workers=1,
                env={"BOOT_SECONDS": str(loading)})
    d.wait_log("booting worker 0")
    worker = wait_until(lambda: d.workers()[0] if d.workers() else None, 5, what="the worker forked")
    time.sleep(1)  # into its loading
    freeze((d.pid, worker), frozen)  # longer than timeout, or long enough that the rest of the load outlasts it
    d.wait_ready(timeout=20)
    assert d.workers() == [worker] and "aborting it" not in d.log(), d.log()
    assert b"200 OK" in d.request().split(b"\r\n")[0], d.log()


def test_a_worker_blocked_in_a_long_call_when_the_daemon_froze_keeps_the_rest_of_its_timeout(daemons):
    d = daemons("--timeout", "6", workers=1)
    d.wait_ready()
    workers = d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    sock.sendall(b"GET /block/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # 4 s, no heartbeat
    time.sleep(1)  # into its call
    freeze([d.pid] + workers, 7)  # frozen past timeout: 3 s of the call left at the thaw, 5 s of its timeout
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"blocked %d" % workers[0]), (data, d.log())
    assert "did not run for" in d.log() and "aborting it" not in d.log(), d.log()
    assert d.workers() == workers, d.log()


def test_a_short_pause_then_a_freeze_in_one_silence_spares_a_long_call_for_the_longer_one(daemons):
    """A check the master ran late (a loaded machine, the master alone stopped 1.5 s)
    spares a worker busy in a long call once; the daemon's freeze later in the same
    silence is longer: the worker keeps the rest of its timeout from that one (the
    longest pause counts, not the first)."""
    d = daemons("--timeout", "8", workers=1)
    d.wait_ready()
    workers = d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    sock.sendall(b"GET /block/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # 5 s, no heartbeat
    time.sleep(0.5)  # into its call
    freeze([d.pid], 1.5)  # the master alone: its next check runs 1.5 s late
    d.wait_log("did not run for")
    freeze([d.pid] + workers, 8)  # frozen past the first pause's deadline: ~2.5 s of the call left at the thaw
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"blocked %d" % workers[0]), (data, d.log())
    assert d.log().count("did not run for") >= 2 and "aborting it" not in d.log(), d.log()
