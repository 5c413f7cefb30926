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
