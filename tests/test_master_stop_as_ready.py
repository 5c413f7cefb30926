"""A graceful stop that reaches a worker at the very instant it finishes booting: the
worker has passed its last look for the master's ``stop`` and reports ready as the
master's TERM and ``stop`` come. It serves by then (its own TERM handler is in place),
so it drains like any serving worker, answering what it accepted, rather than being
SIGKILLed by the master with the connections the kernel queued for it.

The instant is made on the real worker with strace's fault injection: its ``ready``
message (its first send on the control channel) is held at the system call's entry
until the stop has been sent to it."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from daemon import Daemon, scratch_dir, wait_until
from debian import ensure

SENDTO = 44  # x86_64 system call number (Python's socket.send)


@pytest.fixture
def strace():
    path, why = ensure("strace", "strace")
    assert path is not None, why  # a root apt machine (CI) can always install it
    return path


def booting_pid(d, slot):
    pattern = rf"booting worker {slot} \(pid (\d+), generation 1\)"
    return int(wait_until(lambda: re.search(pattern, d.log()), 20, what=d.log).group(1))


def in_syscall(pid, number):
    try:
        with open(f"/proc/{pid}/syscall") as fh:
            return fh.read().split()[0] == str(number)
    except (OSError, IndexError):
        return False


def hold_ready(strace, pid, seconds):
    """strace holding worker ``pid``'s first send (its ready message) ``seconds`` at entry."""
    tracer = subprocess.Popen([strace, "-p", str(pid), "-e", "trace=sendto",
                               "-e", f"inject=sendto:delay_enter={int(seconds * 1e6)}:when=1"],
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while "attached" not in tracer.stderr.readline():
        assert time.monotonic() < deadline and tracer.poll() is None, "strace did not attach"
    return tracer


def test_a_worker_ready_as_a_stop_with_no_worker_serving_reaches_it_drains_within_the_stops_deadline(strace):
    """No worker serves when TERM comes (a first start): the booting one is told to stop
    ``stop_booting_lead`` (1.5 s) before ``graceful_timeout`` runs out; it reports ready
    after that, with a request queued that never ends: it drains until the stop's own
    deadline, not ``graceful_timeout`` from its ready (which nearly doubled the stop)."""
    gates = scratch_dir("prefork-gates-")
    d = Daemon(app="apps.gated_boot:setup_slow", workers=1, env={"GATE_DIR": gates}, graceful_timeout="10")
    tracer = client = None
    try:
        worker = booting_pid(d, 0)
        tracer = hold_ready(strace, worker, 9)
        client = socket.create_connection(("127.0.0.1", d.port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # queued for the booting worker
        stopped = time.monotonic()
        d.signal(signal.SIGTERM)
        d.wait_log("no worker serves yet")
        open(os.path.join(gates, f"open-{worker}"), "w").close()
        # its ready held 9 s: it comes after the stop message (at 8.5 s), before the 10 s deadline
        wait_until(lambda: in_syscall(worker, SENDTO), 20, what="the worker's ready message")
        d.wait_exit(60)
        took = time.monotonic() - stopped
        log = d.log()
        assert "still booting; stopping it" in log, log
        assert took < 14, f"the stop took {took:.1f} s with graceful_timeout 10\n{log}"
    finally:
        if client is not None:
            client.close()
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        d.cleanup()


def test_a_worker_ready_as_a_graceful_stop_reaches_it_drains_rather_than_being_killed(strace):
    gates = scratch_dir("prefork-gates-")
    d = Daemon(app="apps.gated_boot:setup", workers=1, env={"GATE_DIR": gates})
    tracer = None
    try:
        first = booting_pid(d, 0)
        open(os.path.join(gates, f"open-{first}"), "w").close()
        d.wait_ready()
        d.signal(signal.SIGTTIN)
        late = booting_pid(d, 1)
        tracer = subprocess.Popen([strace, "-p", str(late), "-e", "trace=sendto",
                                   "-e", "inject=sendto:delay_enter=1500000:when=1"],
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while "attached" not in tracer.stderr.readline():
            assert time.monotonic() < deadline and tracer.poll() is None, "strace did not attach"
        open(os.path.join(gates, f"open-{late}"), "w").close()
        # booted, its handlers in place: its "ready" is held in the send
        wait_until(lambda: in_syscall(late, SENDTO), 20, what="the worker's ready message")
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
        log = d.log()
        assert "graceful stop: stopping 1 worker still booting first" in log, log
        assert f"worker 1 (pid {late}) stopped: exit status 0" in log, log
        assert "killing it" not in log, log
    finally:
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        d.cleanup()
