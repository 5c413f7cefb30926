"""The daemon under operator mistakes and a slow master: real processes, real signals.

Named after the defects they cover: signals to the whole process group, a master too
busy to read its workers' channels, bind addresses that cannot work, TTIN/TTOU across
a reload.
"""

import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from daemon import alive, cmdline, python_env, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- a signal to the whole process group ----------------------------------------------------------
@pytest.mark.parametrize("signum, stop_line", [(signal.SIGINT, "fast stop"), (signal.SIGTERM, "graceful stop")])
def test_a_signal_to_the_process_group_acts_as_a_signal_to_the_master(daemons, signum, stop_line):
    """Ctrl-C in a terminal, ``timeout``, ``kill -TERM -PGID``: no worker is replaced."""
    for _ in range(3):  # the race it guards against showed up in most runs
        d = daemons(workers=4, new_session=True)
        d.wait_ready()
        workers = d.wait_workers(4)
        os.killpg(d.pid, signum)  # the daemon leads its own group, as a shell job would
        assert d.wait_exit() == 0  # what the same signal to the master alone gives
        log = d.log()
        assert stop_line in log and "master exiting with status 0" in log
        assert "died" not in log and "replacing" not in log, log
        assert log.count("booting worker") == 4, log
        wait_until(lambda: not [p for p in workers if alive(p)], 5, what="every worker gone")


def test_workers_exit_when_the_master_is_killed(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    workers = d.wait_workers(2)
    d.signal(signal.SIGKILL)
    d.wait_exit()
    wait_until(lambda: not [p for p in workers if alive(p)], 10, what="workers gone after the master's SIGKILL")
