"""The master's timed checks of its workers: heartbeats, kills, memory.

Rules:
- One timer, always armed for the nearest deadline and at most a second away: a worker's
  kill deadline (graceful_timeout of a draining worker, KILL_GRACE after SIGABRT or a
  fast stop), a heartbeat turning ``timeout`` old, a re-exec'd master's inherited worker
  to kill.
- A worker whose heartbeat is older than ``timeout`` gets SIGABRT (faulthandler writes
  its stack to the error log), then SIGKILL KILL_GRACE seconds later if still there; the
  log says which worker, how long it was silent, and what is done. A worker whose app
  is still loading falls under the same ``timeout`` (an import that hangs on a
  database); the log then says it is still booting, and why: loading its app (the
  import, a synchronous ``setup``) sent nothing for longer than ``timeout``, or, once
  it has sent a heartbeat (an async step awaits: ``booting.py``), how long it has been
  silent since (its async setup or lifespan startup blocks its loop). So does a draining worker (a
  reload's, a ``max_requests`` or TTOU one), as gunicorn times it: a handler hung there
  gets its SIGABRT and its stack at ``timeout``, not a bare SIGKILL at
  ``graceful_timeout``; until the worker says its serving loop has ended (``exiting``):
  its exit work (thread joins, ``atexit`` hooks) sends no heartbeats, and the graceful
  kill bounds it (from then, for a worker ending of its own accord).
- A worker is judged on what it sent, read or not: before one is aborted, its channel
  is read. A master that was not running (SIGSTOP, Ctrl-Z, a paused VM) may find its
  timer due before the loop has read the heartbeats that came meanwhile; it must not
  abort every worker as hung. Nor after the whole daemon was frozen (``docker pause``,
  ``systemctl freeze``, SIGSTOP to every process): a check that runs more than
  ``PAUSED`` seconds after it was due means the master was not running (logged), and
  no one could tell then whether the workers ran. Each worker's heartbeat deadline
  then moves on by how late the check ran (``excused``): a frozen worker, beating again
  within a second of its thaw or busy in a long call (a handler, its app loading) that
  had time left, keeps the rest of its ``timeout``. A worker gets that for the longest
  pause of its silence, not their sum: one a pause spared that has sent nothing since is
  spared by the next only as far as it is longer (a check a loaded machine ran a second
  late, then the freeze), so pauses, however many, put off a hung worker's abort by the
  longest of them at most. ``heard_from`` is the time
  a worker's silence is judged from, here and by ``health.is_stale`` (``/healthz``, the
  systemd watchdog). Kill deadlines (a draining worker's ``graceful_timeout``, the
  ``KILL_GRACE`` after SIGABRT, a previous master's workers) move on by how late the
  check ran: the master does not kill a drain for the time it was stopped (the worker's
  own drain timer counts it: worker.py).
- With ``max_worker_memory`` set, each serving worker's resident memory is read from
  /proc at every check (at least once a second). One past the limit is replaced as a
  ``max_requests`` worker is: its replacement starts first, then it drains; the log
  names the worker, its size and the limit, and the restart counts under ``memory``.
  A worker already past the limit when it reports ready cannot be helped by replacing
  it (the app needs more than the limit to boot): that is logged as an error once and
  the worker serves on. So is a worker that replaced one for its memory and outgrows
  the limit itself within ``MEMORY_SETTLE`` seconds of being ready (the app needs more
  than the limit soon after it starts): a limit set too low never turns into a
  replacement loop.
- Every SIGKILL the master sends a worker goes through ``hard_kill``, which records it
  (``aborted_at``): a worker killed past its kill deadline (one whose exit work outlived
  ``graceful_timeout``) is a ``timeout`` restart, and its death's line hints at no
  outside killer.
- One memory replacement at a time: while a worker replaced for its memory is still
  there (its replacement booting, or it draining), no other is replaced for memory, so
  workers crossing the limit together do not double the memory at once.
"""

import logging
import signal
import time

from ..metrics import proc_stats
from . import counted

log = logging.getLogger("prefork.master")

KILL_GRACE = 2.0  # seconds between SIGABRT (or a fast-stop signal) and SIGKILL
MEMORY_SETTLE = 60.0  # seconds after ready within which a memory replacement outgrowing the limit is exempt
MIB = 1024 * 1024
PAUSED = 1.0  # seconds a check may run late before the master counts itself as having been stopped


def stopped(pid):
    """The process is stopped (state T or t in /proc: SIGSTOP, a tracer): a signal other
    than SIGKILL waits until it continues."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("T", "t")


def schedule(master):
    if master.deadline_timer is not None:
        master.deadline_timer.cancel()
    delay = next_check(master)
    now = time.monotonic()
    master.deadline_due = (now, now + delay)  # the master ran then; the check is due then
    master.deadline_timer = master.loop.call_later(delay, check, master)


def next_check(master):
    now = time.monotonic()
    deadlines = [now + 1.0]
    for worker in master.workers.values():
        if worker.kill_at is not None:
            deadlines.append(worker.kill_at)
        if worker.aborted_at is None and not worker.exiting:
            deadlines.append(heard_from(master, worker) + worker.settings.timeout)
    deadlines.extend(master.foreign.values())
    return max(0.01, min(deadlines) - now)


def check(master):
    master.deadline_timer = None
    now = time.monotonic()
    if master.deadline_due is not None and now - master.deadline_due[1] > PAUSED:
        resumed(master, now, now - master.deadline_due[1])
    for worker in list(master.workers.values()):
        timeout = worker.settings.timeout  # its generation's (a reload's new one boots by the new value)
        if worker.kill_at is not None and now >= worker.kill_at:
            log.error("worker %d (pid %d) did not stop in time; killing it", worker.slot, worker.pid)
            hard_kill(master, worker, now)
        elif worker.aborted_at is None and not worker.exiting and \
                now - heard_from(master, worker) > timeout:
            master.on_message(worker)  # what it sent that the master has not read yet (see the rules)
            if master.workers.get(worker.pid) is not worker or worker.aborted_at is not None \
                    or worker.exiting or time.monotonic() - heard_from(master, worker) <= timeout:
                continue
            if stopped(worker.pid):  # SIGSTOP: the SIGABRT waits, the kill takes it
                log.error("worker %d (pid %d) sent no heartbeat for %.1f s: it is stopped (SIGSTOP, a "
                          "debugger); killing it", worker.slot, worker.pid, now - worker.last_beat)
                hard_kill(master, worker, now)
                continue
            if worker.ready:
                log.error("worker %d (pid %d) sent no heartbeat for %.1f s; aborting it (stack follows "
                          "in the error log)", worker.slot, worker.pid, now - worker.last_beat)
            elif worker.last_beat == worker.started:  # nothing heard: its app's import (or sync setup) runs
                log.error("worker %d (pid %d) is still booting after %.1f s: loading its app (import, setup) took "
                          "longer than timeout (%.1f s); aborting it (stack follows in the error log)",
                          worker.slot, worker.pid, now - worker.started, timeout)
            else:  # an async boot step beat, then went silent: it blocks the worker's loop
                log.error("worker %d (pid %d) sent no heartbeat for %.1f s while booting (%.1f s after it started), "
                          "longer than timeout (%.1f s): its async setup or lifespan startup blocks the event loop; "
                          "aborting it (stack follows in the error log)", worker.slot, worker.pid,
                          now - worker.last_beat, now - worker.started, timeout)
            worker.aborted_at = now
            worker.kill_at = now + KILL_GRACE
            master.kill(worker.pid, signal.SIGABRT)
    for pid, deadline in list(master.foreign.items()):
        if now >= deadline:
            log.warning("worker (pid %d) of the previous master did not stop in time; killing it", pid)
            master.kill(pid, signal.SIGKILL)
            master.foreign[pid] = now + 60
    if not master.stopping and any(w.settings.max_worker_memory for w in master.workers.values()):
        check_memory(master)
    schedule(master)


def heard_from(master, worker):
    """The time ``worker``'s silence is judged from: its last message, or later when a
    pause of the master spared it (see the rules): ``timeout`` after this it is hung."""
    excused = master.excused.get(worker.pid)
    if excused is None:
        return worker.last_beat
    return max(worker.last_beat, excused[1] - worker.settings.timeout)


def resumed(master, now, late):
    """The check ran ``late`` seconds after it was due: the master was stopped (see the
    rules)."""
    spared = 0
    for pid in [pid for pid in master.excused if pid not in master.workers]:
        del master.excused[pid]
    if master.stop_deadline is not None:
        master.stop_deadline += late
    for worker in master.workers.values():
        if worker.kill_at is not None:
            worker.kill_at += late
        timeout = worker.settings.timeout
        if worker.aborted_at is not None or worker.exiting:
            continue
        before = master.excused.get(worker.pid)
        if before is not None and worker.last_beat < before[0]:
            # spared by an earlier pause and silent since: this one counts as far as it is
            # longer (a check a loaded machine ran late, then the freeze itself)
            if worker.last_beat + timeout + late > before[1]:
                master.excused[worker.pid] = (before[0], worker.last_beat + timeout + late)
                spared += 1
            continue
        # its silence is judged from ``late`` later: a worker busy in a long call (or
        # loading its app) when the daemon froze keeps the rest of its ``timeout``
        master.excused[worker.pid] = (now, heard_from(master, worker) + timeout + late)
        spared += 1
    for pid in master.foreign:
        master.foreign[pid] += late
    log.warning("the master did not run for %.1f s (stopped or frozen)%s", late,
                f": the silence of {counted(spared, 'worker')} is judged from {late:.1f} s later" if spared else "")


def hard_kill(master, worker, now=None):
    """SIGKILL to ``worker``, recorded where it is sent (``aborted_at``, kept from a
    SIGABRT before it): its death is then said and counted as the master's doing
    (restart reason ``timeout``), never as a kill from outside (the OOM killer)."""
    if worker.aborted_at is None:
        worker.aborted_at = time.monotonic() if now is None else now
    worker.kill_at = None
    master.kill(worker.pid, signal.SIGKILL)


def check_memory(master):
    workers = list(master.workers.values())
    if any(w.recycle_reason == "memory" for w in workers):
        return  # one memory replacement at a time
    now = time.monotonic()
    for worker in workers:
        limit = worker.settings.max_worker_memory * MIB
        if not limit or not worker.ready or worker.retiring or worker.memory_exempt or worker.aborted_at is not None:
            continue
        usage = proc_stats(worker.pid)
        if usage is None or usage[0] <= limit:
            continue
        if worker.replaced_for == "memory" and now - worker.ready_at < MEMORY_SETTLE:
            worker.memory_exempt = True
            log.error("worker %d (pid %d) uses %.0f MiB %.0f s after it started, over max_worker_memory (%d MiB), "
                      "as the worker it replaced did: the app needs more than the limit; it is not replaced "
                      "for its memory", worker.slot, worker.pid, usage[0] / MIB, now - worker.ready_at,
                      worker.settings.max_worker_memory)
            continue
        master.recycle(worker, f"uses {usage[0] / MIB:.0f} MiB, over max_worker_memory "
                               f"({worker.settings.max_worker_memory} MiB)", "memory")
        return


def check_ready_memory(master, worker):
    """A worker that reported ready past ``max_worker_memory`` is exempt from it (logged)."""
    worker.ready_at = time.monotonic()
    limit = worker.settings.max_worker_memory
    usage = proc_stats(worker.pid) if limit else None
    if usage is not None and usage[0] > limit * MIB:
        worker.memory_exempt = True
        log.error("worker %d (pid %d) uses %.0f MiB as it starts, over max_worker_memory (%d MiB): the app "
                  "needs more than the limit; it is not replaced for its memory", worker.slot, worker.pid,
                  usage[0] / MIB, limit)
