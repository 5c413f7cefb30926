"""A graceful stop (TERM) while every worker still awaits its ASGI lifespan startup: the
booting workers are let boot as long as the stop's bound allows (they are the only
ones that could answer what the kernel queued), then told to stop before the master's
kill, so the startup is cancelled and its ``finally`` blocks run (a pool half opened is
closed). They were SIGKILLed at ``graceful_timeout``, their cleanup never run. A TERM
sent to a booting worker alone (not a stop) cancels its startup too, and it is
replaced as a worker killed from outside. Real daemon, signals and processes; each is
killed by PID at the end (the ``daemons`` fixture)."""

import os
import re
import signal
import time

from daemon import wait_until

GRACE = 3.0


def test_term_while_every_lifespan_startup_hangs_runs_their_cleanup_before_the_kill(daemons):
    d = daemons("--graceful-timeout", str(GRACE), app="apps.asgi_startup_hangs:app", workers=2)
    wait_until(lambda: len(d.workers()) == 2, 10, what="two workers booting")
    d.wait_log(r"booting worker 1")
    booting = d.workers()
    d.signal(signal.SIGTERM)
    started = time.monotonic()
    assert d.wait_exit(GRACE + 5) == 0
    assert time.monotonic() - started < GRACE + 1
    log = d.log()
    assert sorted(int(pid) for pid in re.findall(r"startup cleanup ran in (\d+)", log)) == booting, log
    assert "did not stop in time" not in log
    assert "Traceback" not in log


def test_a_term_to_a_booting_worker_alone_cancels_its_startup_and_it_is_replaced(daemons):
    d = daemons(app="apps.asgi_startup_hangs:app", workers=1)
    d.wait_log(r"startup awaits in \d+")
    first = int(re.search(r"startup awaits in (\d+)", d.log()).group(1))
    os.kill(first, signal.SIGTERM)
    d.wait_log(rf"startup cleanup ran in {first}\b")
    d.wait_log(r"startup awaits in \d+", count=2)  # its replacement boots
    log = d.log()
    assert re.search(rf"worker 0 \(pid {first}\) died \(signal SIGTERM\)", log), log
    assert "failed to boot" not in log


def test_term_during_a_reload_cancels_the_new_generations_hanging_startup(daemons, tmp_path):
    hang = tmp_path / "hang"
    d = daemons(app="apps.asgi_startup_hangs:app", workers=1, env={"HANG_FILE": str(hang)})
    d.wait_ready()
    old, = d.workers()
    hang.write_text("")
    d.signal(signal.SIGHUP)
    d.wait_log(r"startup awaits in \d+")
    new = int(re.search(r"startup awaits in (\d+)", d.log()).group(1))
    d.signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0
    log = d.log()
    assert f"startup cleanup ran in {new}" in log, log  # (it was SIGKILLed)
    assert re.search(rf"worker 0 \(pid {old}\) stopped: exit status 0", log), log


def test_an_abandoned_reload_cancels_the_startup_of_its_workers_still_booting(daemons, tmp_path):
    hang = tmp_path / "hang"
    d = daemons(app="apps.asgi_startup_hangs:app", workers=2,
                env={"HANG_FILE": str(hang), "FAIL_FIRST": str(tmp_path / "failed")})
    d.wait_ready()
    hang.write_text("")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload aborted: a new worker failed to boot")
    new = int(re.search(r"startup awaits in (\d+)", d.log()).group(1))
    d.wait_log(rf"worker \d \(pid {new}\) stopped")
    log = d.log()
    assert f"startup cleanup ran in {new}" in log, log  # (it was SIGKILLed)
    assert d.request().startswith(b"HTTP/1.1 200 OK")  # the old generation serves on
