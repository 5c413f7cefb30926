"""``proc_stats`` (the RSS and CPU the status page and /metrics show per worker) on a
real process that exited and is not reaped yet: a zombie has no memory and serves
nothing, so it reads as gone (None), not as a worker of 0 bytes."""

import os
import subprocess
import time

from prefork.metrics import proc_stats


def state(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def test_a_zombie_reads_as_gone_and_a_live_process_does_not():
    child = subprocess.Popen(["sleep", "30"])
    try:
        usage = proc_stats(child.pid)
        assert usage is not None and usage[0] > 0
        os.kill(child.pid, 9)
        deadline = time.monotonic() + 10
        while state(child.pid) != "Z":  # exited; not reaped, as Popen waits only when asked
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        assert proc_stats(child.pid) is None
    finally:
        child.kill()
        child.wait(10)
