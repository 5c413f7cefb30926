"""A worker stopped with SIGSTOP (or held by a debugger) sends no heartbeat: the master
said "aborting it (stack follows in the error log)" and sent SIGABRT, which a stopped
process does not take, so no stack followed and the kill came 2 s later. It now says
the worker is stopped and kills it at once. A real daemon; every process is killed by
PID at the end."""

import os
import signal

from daemon import alive, wait_until


def test_a_stopped_worker_is_said_to_be_stopped_and_replaced(daemons):
    d = daemons("--timeout", "2", workers=1)
    d.wait_ready()
    stopped, = d.wait_workers(1)
    os.kill(stopped, signal.SIGSTOP)
    try:
        d.wait_log(rf"worker 0 \(pid {stopped}\) sent no heartbeat for \d+\.\d s: it is stopped \(SIGSTOP, a "
                   rf"debugger\); killing it", timeout=15)
        wait_until(lambda: not alive(stopped), 5, what="the stopped worker gone")
    finally:
        if alive(stopped):
            os.kill(stopped, signal.SIGCONT)
    replacement, = d.wait_workers(1, exclude=[stopped], timeout=15)
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    assert f"pid {stopped}) sent no heartbeat for" in d.log() and "stack follows" not in d.log()
