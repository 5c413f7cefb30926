"""A reload's new worker killed from outside while it boots (SIGKILL, as the OOM killer
sends) is replaced, with the backoff of any respawn, and the reload completes; only a
worker that fails by itself abandons the reload. A slot whose new workers are killed
again and again abandons it after a bounded number of tries."""

import os
import re
import signal

from daemon import wait_until

BOOT = {"BOOT_SECONDS": "1.5"}


def booting(d, generation, count=1):
    """The pid of the ``count``-th worker of ``generation`` the log says is booting."""
    found = wait_until(lambda: (lambda m: m if len(m) >= count else None)(
        re.findall(rf"booting worker \d+ \(pid (\d+), generation {generation}\)", d.log())), 15,
        what=lambda: f"worker #{count} of generation {generation}:\n{d.log()}")
    return int(found[count - 1])


def test_a_new_worker_killed_while_booting_is_replaced(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=1, env=BOOT)
    d.wait_ready(timeout=20)
    old = d.workers()
    d.signal(signal.SIGHUP)
    os.kill(booting(d, 2), signal.SIGKILL)
    d.wait_log(r"reload: generation 2 ready", timeout=20)
    assert "reload aborted" not in d.log() and "reload refused" not in d.log(), d.log()
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    wait_until(lambda: not set(old) & set(d.workers()), 15, what=lambda: f"the old worker gone:\n{d.log()}")
    assert len(d.serving_workers()) == 1
    d.signal(signal.SIGTERM)
    assert d.wait_exit(20) == 0


def test_a_slot_killed_every_time_abandons_the_reload(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=1, env=BOOT)
    d.wait_ready(timeout=20)
    old = d.workers()
    d.signal(signal.SIGHUP)
    for count in range(1, 20):
        pid = booting(d, 2, count)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: "reload aborted" in d.log() or len(re.findall(r"generation 2\)", d.log())) > count, 30,
                   what=lambda: f"a replacement or the end of the reload:\n{d.log()}")
        if "reload aborted" in d.log():
            break
    assert "reload aborted" in d.log() and "generation 2 ready" not in d.log(), d.log()
    assert 2 <= count <= 10, d.log()
    assert d.workers() == old and d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(20) == 0
