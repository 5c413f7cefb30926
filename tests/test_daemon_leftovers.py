"""The test helper's own guarantee: a daemon a test started and never cleaned up (its start
timed out inside a helper, a fixture raised before its ``finally``) does not outlive the
test run. The run's process exits; its master and workers are gone by PID."""

import os
import subprocess
import sys

from daemon import HERE, alive, python_env, wait_until

SCRIPT = """
import sys
from daemon import Daemon
d = Daemon(workers=2)
d.wait_ready()
print(d.pid, *d.workers(), flush=True)
sys.exit(1)  # as a test run ending with this daemon never cleaned up
"""


def test_a_daemon_left_running_by_a_test_is_killed_with_its_workers_when_the_run_ends():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=HERE, env=python_env(),
                         capture_output=True, timeout=60)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 3, out
    try:
        wait_until(lambda: not any(alive(p) for p in pids), 10, what="the master and its workers gone")
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, 9)
