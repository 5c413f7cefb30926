"""Making a worker process: the fork, the child's set-up before the worker's own code,
and the master's handle on it.

Rules:
- No signal may reach the child before it has dropped the master's handlers: the
  master's signals are blocked around fork and the child restores SIG_DFL first.
- The child leaves the master's state behind without touching it: the metrics
  server's descriptors, the master's loop (``Loop.abandon``), the reload watcher's pipe,
  and every other worker's channel are closed; it becomes the leader of its own process
  group (see master.py's rules).
- The child ends by ``os._exit`` with the worker's status, after logging and the app's
  stdout and stderr are flushed (``os._exit`` writes nothing itself).
- The child gets back the descriptor limit the daemon was started with (the master may
  have raised its own for its channels: startup.py).
- USR1 (reopen the logs) and TTIN are caught and dropped in the child until the worker
  installs its own handlers: their default actions would stop or kill a worker still
  booting. Caught, not ignored: an ignored signal would stay ignored in every program
  the app starts while it loads. TTOU alone is ignored: caught, the write to a
  terminal in ``stty tostop`` mode that raised it would be retried for ever.
- A terminal on the child's standard input is replaced by ``/dev/null``: a worker's group
  is never the terminal's foreground one, so its read (``input()`` in the app) would
  raise TTIN, be retried for ever and spin the CPU; it reads the end of input instead.
- Out of descriptors or processes, no worker is made: None is returned, and the caller
  tries again after ``retry_delay`` (1 s, doubling with each failure in a row of that
  slot, up to 30 s). The failure is logged at the first of a run of them and again at
  the 2nd, 4th, 8th ... (a bounded number of lines), and the start that ends the run says
  how many tries it took. ``master.spawn_failures`` ({slot: failures in a row}) is what
  readiness reads: a slot that cannot be started does not keep the daemon from being
  ready with the workers it has.
"""

import logging
import os
import resource
import signal
import time

from .. import logs
from ..control import Channel
from . import counted

log = logging.getLogger("prefork.master")

SPAWN_RETRY = 1.0  # seconds before a slot whose worker could not be started is tried again
SPAWN_RETRY_CAP = 30.0  # the longest wait between two tries (the wait doubles with each failure)


class WorkerHandle:
    def __init__(self, pid, slot, generation, channel, now, settings):
        self.pid = pid
        self.slot = slot
        self.generation = generation
        self.settings = settings  # its generation's: its timeout, graceful_timeout, memory limit
        self.channel = channel
        self.started = now
        self.last_beat = now
        self.ready = False
        self.retiring = False
        self.exiting = False  # its serving loop has ended: its exit work sends no heartbeats
        self.replaces = None  # pid of the worker this one takes over from (max_requests)
        self.aborted_at = None
        self.kill_at = None
        self.boot_error = None
        self.stats = {}

        self.recycle_reason = None  # why a replacement was started for it (recycle, memory)
        self.recycle_why = None  # the same, as the log says it ("reached max_requests")
        self.recycle_wanted = None  # (why, reason) of a replacement asked before its generation took over
        self.memory_exempt = False  # over max_worker_memory as it booted: the limit cannot be met
        self.replaced_for = None  # the reason of the worker this one replaces (recycle, memory)
        self.ready_at = None
        self.told_stop = False  # sent TERM while it booted (stopping.stop_booting): it never serves


# signals that reach a booting worker from outside it (the app's own crash is SIGSEGV, SIGABRT...)
OUTSIDE_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
                             signal.SIGUSR2})


def killed_from_outside(worker, status):
    """A worker that died before it was ready, by a signal the master did not send it (an
    operator's ``kill``, the OOM killer) and with no boot error of its own: its app did
    not fail to boot, so this is a crash to replace, not a boot failure. (A worker the
    master aborted for its boot ``timeout`` did fail.)"""
    code = os.waitstatus_to_exitcode(status)
    return code < 0 and -code in OUTSIDE_SIGNALS and worker.aborted_at is None and not worker.boot_error


def _not_yet(signum, frame):
    """A signal the booting child drops (its worker installs its own handlers)."""


def spawn(master, slot, generation, settings=None, retried=True):
    """A new worker's handle, or None when no process could be made now (out of
    descriptors or processes: logged; the callers try again later)."""
    settings = settings or master.settings
    try:
        parent_end, child_end = Channel.pair()
    except OSError as exc:
        _cannot_start(master, slot, exc.strerror or str(exc), retried)
        return None
    # no signal may reach the child before it has dropped the master's handlers
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, master.SIGNALS)
    try:
        pid = os.fork()
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        _cannot_start(master, slot, f"fork failed: {exc.strerror or exc}", retried)
        parent_end.close()
        child_end.close()
        return None
    if pid == 0:
        code = 1
        try:
            if master.metrics_server is not None:  # its connections too, while it drains for a re-exec
                master.metrics_server.close_fds_in_child()
            if master.metrics_listener is not None:  # the server's own, or the duplicate a re-exec hands over
                master.metrics_listener[1].close()
            master.loop.abandon()
            if master.reloader is not None:
                master.reloader.close_in_child()
            os.setpgid(0, 0)  # out of the master's process group: see the module rules
            if os.isatty(0):  # (a background group's read of it would spin: module rules)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
            for signum in master.SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            # a background group may write to a tty; a USR1 (log reopen) must not kill a
            # worker before it has its own handler (the worker notes one that comes early)
            for signum in (signal.SIGTTIN, signal.SIGUSR1):
                signal.signal(signum, _not_yet)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # (caught, a write to a tostop tty would retry for ever)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            if master.worker_nofile is not None:  # the master raised its limit: not for workers
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                soft = master.worker_nofile if hard == resource.RLIM_INFINITY else min(master.worker_nofile, hard)
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            parent_end.close()
            for other in master.workers.values():
                other.channel.close()
            code = master.worker_main(slot, settings, master.listeners, child_end)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            try:
                logging.shutdown()
                logs.flush_output()
            finally:
                os._exit(code)
    try:
        os.setpgid(pid, pid)  # also here, so that no group signal can reach it after fork returns
    except OSError:
        pass  # it did so itself already, or it is gone
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    child_end.close()
    parent_end.sock.setblocking(False)
    parent_end.attach(master.loop)  # the rest of a message to the worker waits for the socket
    now = time.monotonic()
    handle = WorkerHandle(pid, slot, generation, parent_end, now, settings)
    master.workers[pid] = handle
    master.loop.add_reader(parent_end.fileno(), master.on_message, handle)
    log.info("booting worker %d (pid %d, generation %d)", slot, pid, generation)
    failures = master.spawn_failures.pop(slot, 0)
    if failures:
        log.info("worker %d started after %d failed %s", slot, failures, "try" if failures == 1 else "tries")
    return handle


def _cannot_start(master, slot, why, retried):
    if not retried:  # (a reload's new worker: the reload is abandoned, and says so)
        log.error("cannot start worker %d: %s", slot, why)
        return
    failures = master.spawn_failures.get(slot, 0) + 1
    master.spawn_failures[slot] = failures
    if failures == 1:
        log.error("cannot start worker %d: %s; trying again in %.0f s, then less and less often", slot, why,
                  retry_delay(master, slot))
    elif failures & (failures - 1) == 0:  # the 2nd, 4th, 8th ... failure in a row
        log.error("cannot start worker %d: %s (%d tries so far; the next in %.0f s)", slot, why, failures,
                  retry_delay(master, slot))


def retry_delay(master, slot):
    """Seconds before ``slot`` is tried again, after its last start failed."""
    failures = master.spawn_failures.get(slot, 1)
    return min(SPAWN_RETRY * 2 ** min(failures - 1, 16), SPAWN_RETRY_CAP)


def serving_ready(master):
    """Every worker of the serving generation is ready: all ``target`` of them, or as many
    as could be started (at least one; the others failed their last start); said in the
    log when True."""
    live = master.serving_by_slot().values()  # (a ready worker serves on while its replacement boots)
    if not live or not all(w.ready for w in live):
        return False
    missing = missing_slots(master, master.generation, master.target)
    if any(slot not in master.spawn_failures for slot in missing):
        return False
    if missing:  # (tried again, less and less often)
        log.warning("%d of %s ready; %d could not be started", master.target - len(missing),
                    counted(master.target, "worker"), len(missing))
    else:
        log.info("workers ready: %d", master.target)  # (always "workers ready": what a watcher waits for)
    return True


def missing_slots(master, generation, target):
    """Slots below ``target`` with no worker of ``generation`` serving or booting."""
    taken = {w.slot for w in master.workers.values() if w.generation == generation and not w.retiring}
    return [slot for slot in range(target) if slot not in taken]

