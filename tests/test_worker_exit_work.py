"""A worker's app gets the exit work of a Python process that ends normally: a
non-daemon thread it started finishes its job within the graceful stop, then the
app's atexit hooks run (they never ran: the worker ends by os._exit)."""

import re
import signal
import time

import pytest

from daemon import Daemon


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_atexit_hooks_run_and_threads_finish_at_a_stop(signum):
    d = Daemon(app="apps.exit_work:setup", workers=1)
    try:
        d.wait_ready()
        worker = d.workers()[0]
        assert b"200 OK" in d.request("/thread")
        d.wait_log(r"thread began")
        d.signal(signum)
        assert d.wait_exit() == 0
        log = d.log()
        assert f"atexit hook ran in {worker}" in log, log
        assert f"atexit hook ran in {d.pid}" not in log  # (the master does not run the app's hooks)
        if signum == signal.SIGTERM:  # a graceful stop waits for the thread; a fast one does not
            assert re.search(rf"thread finished its job in {worker}\n(.*\n)*.*atexit hook ran in {worker}", log)
    finally:
        d.cleanup()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_an_idle_executor_thread_does_not_hold_the_exit(loop):
    d = Daemon("--loop", loop, app="apps.exit_work:setup", workers=1)
    try:
        d.wait_ready()
        assert b"200 OK" in d.request("/executor")
        began = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
        assert time.monotonic() - began < 3.0  # (the grace is 10 s: an idle pool thread is not waited on)
        assert "atexit hook ran" in d.log()
        assert "the app started" not in d.log(), d.log()  # (the loop's own threads: no warning about them)
    finally:
        d.cleanup()


def test_a_hook_that_hangs_is_shown_and_ends_the_worker_before_the_kill():
    d = Daemon("--graceful-timeout", "3", app="apps.exit_work:setup", workers=1, env={"HANG_AT_EXIT": "1"})
    try:
        d.wait_ready()
        began = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
        assert time.monotonic() - began < 4.5  # (about 2.5 s; the master's kill, not seen below, is the bound)
        log = d.log()
        assert "a hook hangs" in log
        assert "_hang" in log  # (its stack, as faulthandler writes it)
        assert "killing it" not in log, log
    finally:
        d.cleanup()


def test_a_fast_stop_ends_the_wait_for_the_app_threads():
    d = Daemon(app="apps.exit_work:setup", workers=1, env={"THREAD_SECONDS": "60"})
    try:
        d.wait_ready()
        assert b"200 OK" in d.request("/thread")
        d.wait_log(r"thread began")
        d.signal(signal.SIGTERM)
        d.wait_log(r"waiting up to \d+\.\d s for 1 thread the app started \(not daemon threads\): Thread-\d+")
        began = time.monotonic()
        d.signal(signal.SIGINT)
        assert d.wait_exit() == 0
        assert time.monotonic() - began < 2.0
        log = d.log()
        assert "atexit hook ran" in log and "killing it" not in log, log
    finally:
        d.cleanup()


def test_atexit_hooks_run_when_the_app_replaced_sys_stderr():
    d = Daemon(app="apps.exit_work:setup", workers=1, env={"REPLACE_STDERR": "1"})
    try:
        d.wait_ready()
        worker = d.workers()[0]
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
        log = d.log()
        assert f"atexit hook ran in {worker}" in log and "exit status 0" in log, log
    finally:
        d.cleanup()
