"""The master's stops: graceful (TERM) and fast (INT, QUIT, a failed first boot).

Rules:
- A graceful stop withdraws readiness (/readyz) at once and starts draining after
  ``readiness_withdraw`` seconds: the listeners close, every worker gets TERM and has
  ``graceful_timeout`` seconds before the deadlines kill it. Workers still booting (a
  reload's new generation) go first, stopped by TERM (they have served nothing; a
  lifespan startup they await is cancelled, its ``finally`` blocks run: booting.py;
  ``stop_booting``: one whose app's own SIGTERM handler took the TERM never serves,
  and is killed ``KILL_GRACE`` later if still there; one that reports ready as the stop
  comes serves by then, and drains), and the serving ones are told to
  drain once they are gone (``BOOTING_GONE`` seconds at most; the serving ones accept
  meanwhile):
  a booting worker holds the listen sockets without accepting, so connections the
  kernel queued for it after the serving ones stopped accepting would be reset when it
  goes. When no worker serves (all booting: a first start, just after a USR2 re-exec),
  the booting ones are the only ones that can answer what the kernel queued: each
  drains once it is ready; one still booting ``stop_booting_lead`` seconds before
  ``graceful_timeout`` runs out gets TERM, which cancels the lifespan startup or async
  setup it awaits (its ``finally`` blocks run; booting.py), and what is left at
  ``graceful_timeout`` is killed.
- A fast stop closes the listeners and sends every worker INT (not QUIT: a worker still
  booting, before its handlers, must end by a default action that dumps no core), to
  its process group: the processes the app started in the worker (a helper, a pool)
  get it too, as a Ctrl-C reaches them under gunicorn (its workers share the terminal's
  foreground group, prefork's do not), rather than being left running once prefork is
  gone. The deadlines kill what is left of the workers after ``KILL_GRACE``. On INT or QUIT the workers of the
  master a USR2 re-executed from, still draining, get the same INT and bound: the stop
  does not wait for their drain (a failed first boot's stop lets them finish, as a
  graceful one does). A fast stop during a graceful one takes over (draining never
  begins).
- Either way the autoreloader and a USR2's running check end, and the master's loop
  stops once no worker (nor an adopted one) is left.
"""

import logging
import os
import signal
import time

from . import counted, systemd
from .deadlines import KILL_GRACE

log = logging.getLogger("prefork.master")

BOOTING_GONE = KILL_GRACE + 0.5  # seconds a graceful stop waits for the stopped booting workers before draining
STOP_UNWIND = 1.0  # seconds a boot step a TERM cancels gets for its cleanup in the worker (booting.STOP_UNWIND)

def graceful_stop(master):
    """Readiness is withdrawn at once; draining starts after readiness_withdraw seconds."""
    if master.stopping:
        return
    master.stopping = "graceful"
    systemd.notify("STOPPING=1")
    withdraw = master.settings.readiness_withdraw
    if withdraw > 0 and master.workers:
        log.info("graceful stop: readiness withdrawn; draining begins in %.1f s", withdraw)
        master.loop.call_later(withdraw, drain_all, master)
    else:
        drain_all(master)


def drain_all(master):
    if master.stopping != "graceful":  # a fast stop came first
        return
    master.close_listeners()
    booting = [worker for worker in master.workers.values() if not worker.ready]
    if booting and not any(worker.ready and not worker.retiring for worker in master.workers.values()):
        log.info("graceful stop: no worker serves yet; %s drain%s once ready (up to %.1f s)",
                 counted(len(booting), "booting worker"), "s" * (len(booting) == 1), master.settings.graceful_timeout)
        deadline = master.stop_deadline = time.monotonic() + master.settings.graceful_timeout
        for worker in master.workers.values():
            worker.kill_at = min(worker.kill_at or deadline, deadline)
        drain_when_ready(master, deadline - stop_booting_lead(master.settings.graceful_timeout))
        after_stop_signal(master)
        return
    if booting:
        log.info("graceful stop: stopping %s still booting first", counted(len(booting), "worker"))
        for worker in booting:
            stop_booting(master, worker)
    wait_booting(master, {worker.pid for worker in booting}, time.monotonic() + BOOTING_GONE)


def wait_booting(master, pids, until):
    """The serving workers drain once the booting ones (``pids``) are reaped, or at ``until``."""
    if master.stopping != "graceful":
        return
    if pids.intersection(master.workers) and time.monotonic() < until:
        master.loop.call_later(0.005, wait_booting, master, pids, until)
        return
    drain_serving(master)


def drain_when_ready(master, give_up_at):
    """No worker served when the stop came: the booting ones are the only ones that can
    take what the kernel queued on the listen sockets. Each is told to drain as soon as
    it is ready (a TERM before its handlers would end it, and reset what it holds). One
    still booting at ``give_up_at`` (``stop_booting_lead`` before the deadlines' kill)
    gets TERM then: a lifespan startup or async setup it awaits is cancelled, its
    ``finally`` blocks run, and it ends (booting.py); the deadlines kill what is left."""
    if master.stopping != "graceful":
        return
    late = time.monotonic() >= give_up_at
    for worker in master.workers.values():
        if not worker.retiring and (worker.ready or late):
            if not worker.ready:
                log.info("graceful stop: worker %d (pid %d) still booting; stopping it", worker.slot, worker.pid)
                stop_booting(master, worker)
                continue
            worker.retiring = True
            master.kill(worker.pid, signal.SIGTERM)
    if any(not worker.retiring for worker in master.workers.values()):
        master.loop.call_later(max(0.0, min(0.01, give_up_at - time.monotonic())), drain_when_ready, master,
                               give_up_at)


def stop_booting(master, worker):
    """TERM to ``worker``, still booting, with a ``stop`` message: its import ends at once
    (TERM's default action), a lifespan startup or async setup it awaits is cancelled
    and runs its ``finally`` blocks (booting.py). An app whose own SIGTERM handler took
    the TERM finds the message before it listens and the worker ends; one that reports
    ready anyway (the stop came as it finished booting, after its last look) drains
    (``drains_once_ready``): it serves by then. One still there after
    ``KILL_GRACE`` (that handler's import goes on) is killed: it holds the listen sockets
    without accepting."""
    worker.retiring = True
    worker.told_stop = True
    deadline = time.monotonic() + KILL_GRACE  # (the cancelled step's cleanup fits: booting.STOP_UNWIND)
    worker.kill_at = min(worker.kill_at or deadline, deadline)
    worker.channel.send("stop")
    master.kill(worker.pid, signal.SIGTERM)
    master.schedule_deadlines()


def drains_once_ready(master, worker):
    """``worker`` reports ready: if it was told to stop while booting, it had looked for
    the ``stop`` for the last time before it came (one it found ended it), so it serves
    and drains, on the TERM or the ``stop`` it reads now; it is not taken as ready for
    the generation (True), and gets ``graceful_timeout`` from now, as a retired worker, but
    no later than the stop's own deadline once it has one (a stop that found no worker
    serving, the drain, a fast stop): ``graceful_timeout`` bounds the whole stop."""
    if not worker.told_stop:
        return False
    log.info("worker %d (pid %d) reported ready as it was told to stop while booting; it drains",
             worker.slot, worker.pid)
    worker.ready = True
    worker.kill_at = min(time.monotonic() + worker.settings.graceful_timeout, master.stop_deadline or float("inf"))
    master.schedule_deadlines()
    return True


def stop_booting_lead(grace):
    """Seconds before a graceful stop's kill that a worker still booting gets its TERM: the
    second its cancelled startup gets for its ``finally`` blocks (``STOP_UNWIND``) and
    the worker's exit margin (an eighth of ``graceful_timeout``, at most 0.5 s), at most
    a quarter of ``graceful_timeout`` (the rest is the boot's)."""
    return min(STOP_UNWIND + min(grace / 8, 0.5), grace / 4)


def drain_serving(master):
    log.info("graceful stop: draining %s (up to %.1f s)", counted(len(master.workers), "worker"),
             master.settings.graceful_timeout)
    deadline = master.stop_deadline = time.monotonic() + master.settings.graceful_timeout
    for worker in master.workers.values():
        worker.retiring = True
        worker.kill_at = min(worker.kill_at or deadline, deadline)
        master.kill(worker.pid, signal.SIGTERM)
    after_stop_signal(master)


def fast_stop(master, previous=True):
    """``previous``: the workers of the program a USR2 re-executed from, still draining,
    are cut too (an operator's INT or QUIT); a failed first boot lets them finish."""
    if previous:
        deadline = time.monotonic() + KILL_GRACE
        for pid, kill_at in master.foreign.items():
            if kill_at > deadline:
                master.foreign[pid] = deadline
                interrupt(master, pid)
        if master.stopping == "fast":
            master.schedule_deadlines()
    if master.stopping == "fast":
        return
    master.stopping = "fast"
    log.info("fast stop")
    systemd.notify("STOPPING=1")
    master.close_listeners()
    deadline = master.stop_deadline = time.monotonic() + KILL_GRACE
    for worker in master.workers.values():
        worker.retiring = True
        worker.kill_at = deadline
        # INT, not QUIT: the same fast stop for a serving worker, but one still booting
        # (no handler yet) dies by INT's default action, where QUIT's dumps its core; to
        # its group (it leads one): what the app started in it stops with it
        interrupt(master, worker.pid)
    after_stop_signal(master)


def interrupt(master, pid):
    """INT to worker ``pid``'s process group, and to the worker itself when the app moved
    it to another group."""
    master.kill(-pid, signal.SIGINT)
    try:
        moved = os.getpgid(pid) != pid
    except ProcessLookupError:
        return
    if moved:
        master.kill(pid, signal.SIGINT)


def after_stop_signal(master):
    if master.reloader is not None:
        master.reloader.close()
    if master.reexec_check is not None:  # a USR2's check: no re-exec will follow
        master.kill(-master.reexec_check.pid, signal.SIGKILL)  # its group: the app load it runs too
    if not master.workers and not master.foreign:
        master.loop.stop()
    else:
        master.schedule_deadlines()

