"""systemd notifications around a switch-over, read from a real notify socket: after a
HUP the ``READY=1`` says the configured count of workers (not both generations, the
old one draining); a USR2 re-exec is a reload systemd can follow (``RELOADING=1`` with
``MONOTONIC_USEC`` first, then the new program's ``READY=1`` with its ``MAINPID``)."""

import signal
import time

from daemon import wait_until
from test_operations import NotifyListener


def test_ready_after_a_reload_counts_the_configured_workers_not_both_generations(daemons):
    listener = NotifyListener()
    try:
        d = daemons(workers=2, env={"NOTIFY_SOCKET": listener.address})
        (_, first), = listener.wait("READY", "1")
        assert first["STATUS"].startswith("2 workers,"), first
        d.signal(signal.SIGHUP)
        (_, first), (_, after) = listener.wait("READY", "1", count=2, timeout=20)
        assert "draining" in d.log() and after["STATUS"].startswith("2 workers,"), (after, d.log())
    finally:
        listener.close()


def test_a_usr2_re_exec_says_reloading_then_ready_with_its_main_pid(daemons):
    listener = NotifyListener()
    try:
        d = daemons(workers=1, env={"NOTIFY_SOCKET": listener.address})
        listener.wait("READY", "1")
        before = time.monotonic_ns() // 1000
        d.signal(signal.SIGUSR2)
        wait_until(lambda: "re-executing the master" in d.log(), 30, what=d.log)
        listener.wait("READY", "1", count=2, timeout=30)
        order = [(t, m) for t, m in listener.messages if set(m) & {"READY", "RELOADING"}]
        assert [next(iter(set(m) & {"READY", "RELOADING"})) for _, m in order] == ["READY", "RELOADING", "READY"], order
        reloading, ready = order[1][1], order[2][1]
        assert 0 <= int(reloading["MONOTONIC_USEC"]) - before < 30_000_000, (reloading, before)
        assert ready["MAINPID"] == str(d.pid) and ready["STATUS"].startswith("1 worker,"), ready
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
    finally:
        listener.close()
