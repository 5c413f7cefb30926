"""USR2: the master re-executes itself in place (same PID, same listen sockets), and
the new program adopts the workers of the old one until they have drained."""

import logging
import os
import signal
import sys
import time

from . import listeners as listeners_mod

log = logging.getLogger("prefork.master")

RETIRE_ENV = "PREFORK_RETIRE"


def reexec(master):
    """Replace this process's code in place: same PID, same listen sockets."""
    if master.stopping:
        return
    log.info("USR2: re-executing the master (pid %d)", os.getpid())
    env = dict(os.environ)
    env[listeners_mod.INHERIT_ENV] = listeners_mod.for_exec(master.listeners)
    pids = list(master.workers) + list(master.foreign)
    env[RETIRE_ENV] = ",".join(map(str, pids))
    for worker in master.workers.values():
        master.kill(worker.pid, signal.SIGTERM)
        worker.channel.close()
    for signum in master.SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    master.reexecuted = True
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable] + sys.orig_argv[1:], env)
    except OSError as exc:  # pragma: no cover - only when the interpreter vanished
        log.error("re-exec failed: %s", exc)


def adopt_retiring(master):
    """Workers of the master this process re-executed from: reap them, bound their drain."""
    pids = os.environ.pop(RETIRE_ENV, "")
    deadline = time.monotonic() + master.settings.graceful_timeout
    for pid in filter(None, pids.split(",")):
        master.foreign[int(pid)] = deadline
    if master.foreign:
        master.loop.call_soon(master.reap)
