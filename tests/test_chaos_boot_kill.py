"""A worker of the first generation killed from outside while it boots (an operator's
``kill``, the OOM killer), at a start or just after a USR2 re-exec: the master took it
for the app failing to boot, stopped, and exited with status 3 (which
``RestartPreventExitStatus=2 3`` then keeps down), although the app boots fine. Only the
worker's own failure (an exit status, a boot error, the master's abort at ``timeout``) is
a boot failure now; a worker killed by a signal from outside is replaced.

Real daemons, real signals, real sockets on 127.0.0.1; every process is killed by PID at
the end (the ``daemons`` fixture)."""

import os
import re
import signal

BOOTING = r"booting worker 0 \(pid (\d+), generation 1\)"


def booting_pid(d, count):
    d.wait_log(BOOTING, count=count)
    return int(re.findall(BOOTING, d.log())[count - 1])


def test_a_booting_worker_killed_after_a_reexec_is_replaced_not_a_boot_failure(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=2, env={"BOOT_SECONDS": "1"})
    d.wait_ready(timeout=15)
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: re-executing")
    os.kill(booting_pid(d, 2), signal.SIGKILL)  # the new program's first worker, booting
    d.wait_log(r"worker 0 \(pid \d+\) died \(signal SIGKILL\)|failed to boot")
    assert "failed to boot" not in d.log()
    d.wait_log(r"workers ready: 2", count=2, timeout=15)
    assert d.proc.poll() is None
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0


def test_booting_workers_killed_or_terminated_at_the_first_start_are_replaced(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=2, env={"BOOT_SECONDS": "1"})
    os.kill(booting_pid(d, 1), signal.SIGKILL)
    d.wait_log(r"booting worker 1 \(pid \d+, generation 1\)")
    os.kill(int(re.search(r"booting worker 1 \(pid (\d+), generation 1\)", d.log()).group(1)), signal.SIGTERM)
    d.wait_log(r"workers ready: 2|failed to boot", timeout=15)
    assert "failed to boot" not in d.log()
    assert len(re.findall(r"died \(signal SIG(KILL|TERM)\)", d.log())) == 2
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    assert d.proc.poll() is None
