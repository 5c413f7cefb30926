"""Liveness and readiness of the daemon, as the master sees them (``/healthz``, ``/readyz``).

Rules:
- Live: the master's loop runs (it is the loop that answers) and every worker's
  heartbeat is fresh. A heartbeat is stale once it is older than half of ``timeout``
  (never less than two heartbeat intervals, never more than ``timeout``; each worker's
  generation's own ``timeout``, as the master holds it to that one): well before the
  master itself aborts the worker at ``timeout``, so a probe sees the hang, and late
  enough that one slow request on a loop is not reported.
- Not live either once the workers crash-loop: the first generation came up, no worker
  serves now, and every slot's worker died young (the master's quick deaths, which
  back off its respawns) ``CRASH_LOOP`` times in a row or more: the daemon would go on
  retrying for ever (an app that can no longer be imported, a database its boot
  needs), and a liveness probe is what restarts it. Readiness says "no worker serving"
  from the first death.
- A worker still booting (not ready: an events or WSGI app still importing sends no
  heartbeat) is not stale while it is within the boot deadline the master enforces
  (``timeout`` since its last message, ``deadlines.py``); past it the master aborts it,
  and it is stale until it is gone. A worker whose serving loop has ended (``exiting``:
  joining the app's threads, running its ``atexit`` hooks) owes no heartbeat and is not
  stale: the graceful kill bounds it. The same rule decides ``/status.json``'s
  ``stale``, and the systemd watchdog's with a longer limit (``operations.watchdog``:
  past the master's own kill of a hung worker). A serving or draining
  worker has no such grace. Liveness and the watchdog measure a worker's silence as the
  master's aborts do (``deadlines.heard_from``, passed as ``heard``): after a pause of
  the master (a frozen daemon), from the longest pause's length later, not
  from a heartbeat the freeze made old.
- Ready: the first generation has reported ready, a worker of the current generation
  serves, and the daemon is neither stopping nor in a reload's switch-over. After a USR2 re-exec the new program starts
  unready (``booting``) until its own first generation is ready: the old workers stop
  accepting at the exec, so nothing serves meanwhile. Readiness is withdrawn from the first moment of a
  graceful stop (TERM), for good, and of a reload's switch-over (the new generation is
  ready) until the switch-over is done: the new generation serves then, while the old
  one finishes the requests it holds (for up to ``graceful_timeout``: a stream, a
  WebSocket), so a load balancer is not told to take away a daemon that serves
  every new connection. With ``readiness_withdraw`` > 0 the master waits that many
  seconds, still accepting, between withdrawing readiness and starting to drain, so
  that a load balancer stops sending first.
- Both answer from the master's own state only: no I/O, no worker is asked anything.
"""
from . import counted, deadlines

HEARTBEAT_INTERVAL = 1.0  # the workers' heartbeat period (prefork/worker.py)
CRASH_LOOP = 5  # quick deaths in a row of every slot's worker, none serving: not live (about 1.5 s of backoff)


def fresh_limit(timeout):
    """Seconds after which a worker's heartbeat counts as stale."""
    return min(timeout, max(2 * HEARTBEAT_INTERVAL, timeout / 2))


def is_stale(worker, now, limit=None, heard=None):
    """Whether ``worker``'s silence counts against it: older than ``limit`` (by default the
    fresh limit of its timeout), unless it is still booting within its boot deadline. Its
    timeout is its own generation's, the one the master holds it to (a reload's new
    generation boots by the new value while the old one drains by its own). ``heard``:
    the time its silence is judged from (``deadlines.heard_from``; its last message if
    None)."""
    if worker.exiting:  # its exit work owes no heartbeat: the graceful kill bounds it
        return False
    age = now - (worker.last_beat if heard is None else heard)
    timeout = worker.settings.timeout
    if age <= (fresh_limit(timeout) if limit is None else limit):
        return False
    booting = not worker.ready and worker.aborted_at is None and age <= timeout
    return not booting


def liveness(master):
    """(live, text): text names each stale worker."""
    now = master.clock()
    stale = []
    for worker in sorted(master.workers.values(), key=lambda w: (w.generation, w.slot)):
        age = now - worker.last_beat
        if is_stale(worker, now, heard=deadlines.heard_from(master, worker)):
            limit = fresh_limit(worker.settings.timeout)
            stale.append(f"worker {worker.slot} (pid {worker.pid}, generation {worker.generation}): "
                         f"no heartbeat for {age:.1f} s (limit {limit:.1f} s)")
    if stale:
        return False, "stale\n" + "\n".join(stale) + "\n"
    # (a stop drains every worker on purpose: that is no crash loop, whatever died before)
    if master.booted and master.target and not master.stopping and \
            not any(w.ready and not w.retiring for w in master.workers.values()):
        deaths = min(master.failures.get(slot, 0) for slot in range(master.target))
        if deaths >= CRASH_LOOP:
            return False, (f"crash loop: no worker serving; every worker died soon after its start, "
                           f"{deaths} times in a row or more\n")
    limit = fresh_limit(master.settings.timeout)
    return True, f"ok: {counted(len(master.workers), 'worker')}, heartbeats within {limit:.1f} s\n"


def readiness(master):
    """(ready, reason)."""
    if master.stopping:
        return False, f"stopping ({master.stopping})"
    if not master.booted:
        return False, "booting"
    if master.switching:
        return False, f"reload: switching to generation {master.new_generation[0]}"
    if not any(w.ready and not w.retiring and w.generation == master.generation for w in master.workers.values()):
        return False, "no worker serving"
    return True, "ready"



class ReadinessCollector:
    """Collector for /metrics: ``prefork_ready`` is 1 while /readyz answers 200."""

    def __init__(self, master):
        self.master = master

    def collect(self):
        from ..exposition import gauge

        ready, _ = readiness(self.master)
        yield gauge("prefork_ready", "1 while /readyz answers 200 (ready), else 0.", int(ready))
