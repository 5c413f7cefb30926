"""Processes a worker's app starts are not the worker: a forked child (multiprocessing's
``terminate()``) dies of the TERM sent to it, with the worker untouched (the signal
used to reach the worker's loop through the wakeup descriptor both shared, and drained
it), and a program the app runs inherits no ignored signal of the worker's."""

import re
import signal

import pytest

from daemon import Daemon

# (TTOU stays ignored: caught, a write to a terminal in tostop mode would be retried for ever)
HUP_TTIN_USR2 = (1 << (signal.SIGHUP - 1)) | (1 << (signal.SIGTTIN - 1)) | (1 << (signal.SIGUSR2 - 1))


BOOTING = (1 << (signal.SIGTTIN - 1)) | (1 << (signal.SIGUSR1 - 1))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_forked_child_dies_of_its_terminate_and_the_worker_serves_on(loop):
    d = Daemon("--loop", loop, app="apps.forking:setup", workers=1)
    try:
        d.wait_ready()
        worker = d.workers()
        body = d.request("/terminate", timeout=15).partition(b"\r\n\r\n")[2].decode()
        code, pid = body.split()
        assert code == str(-signal.SIGTERM), body  # killed by its TERM (it used to run on, exitcode None)
        assert [int(pid)] == worker
        assert b"200 OK" in d.request("/")
        assert d.workers() == worker
        assert "drains on a signal" not in d.log() and "draining" not in d.log()
        ignored = int(d.request("/sigign").partition(b"\r\n\r\n")[2], 16)
        assert ignored & HUP_TTIN_USR2 == 0, hex(ignored)
        assert ignored & (1 << (signal.SIGTTOU - 1)), hex(ignored)  # (the one kept ignored, by choice)
        d.signal(signal.SIGHUP)  # still nothing to a worker: the reload replaces it as ever
        d.wait_log(r"reload: generation 2", timeout=15)
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        d.cleanup()


def test_a_program_the_app_runs_as_it_loads_inherits_no_ignored_signal():
    d = Daemon(app="apps.forking:setup", workers=1, env={"REPORT_BOOT_SIGIGN": "1"})
    try:
        d.wait_ready()
        ignored = int(re.search(r"boot SigIgn ([0-9a-f]+)", d.log())[1], 16)
        assert ignored & BOOTING == 0, hex(ignored)
    finally:
        d.cleanup()
