"""A worker's death line: one that served says how long it lived; one that never
reported ready says it died while booting (it said "after 0.0 s", or its boot's
length, which read as a crash once serving)."""

import os
import re
import signal

BOOTING = r"booting worker 0 \(pid (\d+), generation 1\)"


def test_a_worker_killed_while_booting_is_said_to_have_died_while_booting(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=1, env={"BOOT_SECONDS": "3"})
    d.wait_ready(timeout=20)
    served, = d.wait_workers(1)
    os.kill(served, signal.SIGKILL)
    d.wait_log(BOOTING, count=2)
    booting = int(re.findall(BOOTING, d.log())[1])
    os.kill(booting, signal.SIGKILL)
    d.wait_log(rf"\(pid {booting}\) died")
    log = d.log()
    assert re.search(rf"worker 0 \(pid {served}\) died \(signal SIGKILL\) after \d+\.\d s; replacing it", log), log
    assert re.search(rf"(?m)worker 0 \(pid {booting}\) died \(signal SIGKILL\) while booting; replacing it"
                     r"( in \d+\.\d s \(quick death #\d+\))?; it was not killed by the master", log), log
    assert d.request(timeout=20).startswith(b"HTTP/1.1 200 OK")  # (its replacement, once booted)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0
