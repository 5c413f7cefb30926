"""The master: one single-threaded loop that owns the listen sockets and the workers.

Rules:
- Signal handlers only record: the loop's wakeup fd turns each delivered signal into
  one call of the matching method, in order, so none is lost or merged by prefork (the
  kernel itself merges identical signals that are pending at the same moment).
- Workers live in slots 0..n-1 of a generation. A worker that dies is replaced in the
  same slot at once; repeated quick deaths of a slot back off exponentially (capped).
  A worker of the first generation that dies before it reported ready is a boot
  failure (not one replacing a worker, even before the others are up: see below):
  the master stops and exits with status 3; unless it was killed by a signal
  from outside (``workers.killed_from_outside``: SIGKILL from an operator or the OOM
  killer, a TERM sent to it), which is a crash: it is replaced. A SIGKILL the master
  did not send is said so in its death's line, with the OOM killer named as the likely
  sender (gunicorn's "Perhaps out of memory?"); one that never reported ready is said
  to have died while booting (``deaths.py``).
- Reload (HUP) re-reads the configuration; if it is bad the master logs every problem
  and keeps running. Otherwise a new generation starts, and the old one is told to
  drain only once every new worker reported ready. A new worker that dies after it
  reported ready but before the switch-over is replaced in its generation, as a
  serving one is (the reload would otherwise wait for it for ever), and the switch-over
  waits for its replacement to be ready; so is one killed from outside while it boots
  (``reload.boot_killed``, a bounded number of times). The worker count TTIN/TTOU set is
  kept unless the configuration's ``workers`` changed; TTIN/TTOU during a reload are
  ignored (logged).
- A worker whose heartbeat is older than ``timeout`` gets SIGABRT, then SIGKILL 2 s
  later; one past ``max_worker_memory`` is replaced (``deadlines.py``). Forking a
  worker and its handle are ``workers.py``.
- A worker that served its quota (``max_requests``) or outgrew ``max_worker_memory`` is
  replaced replacement first: the old one drains once the new one is ready. A
  replacement that fails to boot (or cannot be started) leaves the old one serving, and
  is tried again, backing off as a slot's quick deaths do, until one boots: the worker
  asks only once. One of a reload's new generation that asks before the switch-over is
  remembered and replaced at the switch-over.
- Every child is reaped, a worker or not: run as PID 1 (a container), the master is
  the parent of whatever the apps' own processes leave behind, and reaps each such
  orphan as it exits, so none stays a zombie.
- A graceful stop withdraws readiness (/readyz) at once and starts draining after
  ``readiness_withdraw`` seconds; the operations endpoints answer until the master exits
  (``stopping.py``; TTIN/TTOU are ``scaling.py``).
- Each worker is the leader of its own process group, so a signal to the master's group
  (Ctrl-C in a terminal, ``timeout``, ``kill -TERM -PGID``) reaches the master alone and
  acts exactly as if sent to the master's PID; the master tells the workers. A worker
  whose master vanished (SIGKILL) sees its channel close and drains.
- The master's signals are blocked from before it starts (``cli.run``, and across a
  USR2 exec) until its handlers are installed: one sent meanwhile is handled then,
  never lost (PID 1 would ignore it) nor fatal (the default action of HUP, USR1).
- A fast stop (INT, QUIT, a failed first boot) sends the workers INT: a worker still
  booting, before its handlers, must end by a default action that dumps no core. It
  goes to each worker's process group, so what the app started there stops too.
- SIGCHLD is acted on after the other signals read in the same wakeup, so a stop signal
  is always handled before the worker exits it caused.
- The loop sleeps until the next deadline (heartbeat checks, kills, backoff respawns).
"""

import logging
import os
import signal
import sys
import time

from setproctitle import setproctitle

from .. import __version__, logs
from ..loop import Loop
from ..metrics import Aggregator
from . import (autoreload, counted, deadlines, deaths, listeners as listeners_mod, operations, reexec, reload, reopen,
               scaling, startup, stopping, systemd, workers as workers_mod)

log = logging.getLogger("prefork.master")

EXIT_BOOT_FAILURE = 3
BACKOFF_CAP = 10.0
QUICK_DEATH = 5.0  # a worker that dies younger than this counts towards backoff
MASTER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN,
                  signal.SIGTTOU, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD)


class Master:
    SIGNALS = MASTER_SIGNALS

    def __init__(self, settings, reload_settings, worker_main):
        """``reload_settings(running, text=None)`` re-reads the configuration from the original
        sources (``text``: the configuration file's content, read already);
        ``worker_main(slot, settings, listeners, channel)`` runs a worker in the forked
        child and returns its exit status (the master never imports the server)."""
        self.settings = settings
        self.reload_settings = reload_settings
        self.worker_main = worker_main
        self.loop = Loop()
        self.listeners = []
        self.workers = {}  # pid -> WorkerHandle
        self.foreign = {}  # pid -> kill deadline: workers inherited from a re-exec'd master
        self.generation = 0
        self.new_generation = None  # (generation, settings) while a reload boots
        self.target = settings.workers
        self.failures = {}  # slot -> quick deaths in a row
        self.booted = False
        self.spawn_failures = {}  # {slot: starts that failed in a row} (master/workers.py)
        self.boot_failed = False  # reload on: the first generation failed to boot; a change retries
        self.stopping = None  # "graceful" | "fast"
        self.stop_deadline = None  # a stop's kill time for every worker, once it has one (master/stopping.py)
        self.exit_code = 0
        self.deadline_timer = None
        self.deadline_due = None  # (when it was set, when it is due); self.excused: deadlines.resumed
        self.excused = {}  # pid: (pause's end, the heartbeat deadline it gave)
        self.reloads = 0
        self.reload_failures = 0
        self.last_reload_error = None  # why the last reload changed nothing, until one succeeds
        self.reload_queued = False  # a HUP came while a reload was under way
        self.reload_announced = False  # the running reload said RELOADING=1 (its outcome says READY=1)
        self.reload_kills = {}  # {slot: new workers killed from outside while booting, this reload} (reload.py)
        self.restarts = {}
        self.cpu_gone = {}  # slot -> CPU seconds of that slot's workers that were reaped
        self.reexecuted = False
        self.reexec_check = None  # the new program's check-config while a USR2 waits on it
        self.pending_target = settings.workers
        self.aggregator = Aggregator()
        self.clock = time.monotonic
        self.metrics_server = None
        self.metrics_listener = None  # (key, socket) of the operations endpoints, handed over on USR2
        self.watchdog_interval = operations.watchdog_interval()
        self._status = None
        self.reloader = None  # the development file watcher (reload = true)
        self.unix_paths = []  # [(path, inode)]: UNIX socket files removed when the daemon exits
        self.started_at = time.monotonic()
        self.started_wall = time.time()  # this program's start (process_start_time_seconds)
        self.worker_nofile = None  # the descriptor limit the daemon started with, for its workers
        self.switching = False  # a reload's new generation is ready; readiness withdrawn before the switch
        self.switch_timer = None  # the readiness_withdraw wait before a reload's switch-over
        self.switch_limit = None  # the bound of a switch-over's wait for a replaced new worker

    # -- running --------------------------------------------------------------------------
    def run(self):
        settings = self.settings
        os.umask(settings.umask)
        setproctitle(f"prefork: master [{settings.name}]")
        startup.open_all(self)  # a ConfigError here is the only output: no line before it
        log.info("prefork %s on Python %s, master pid %d: %s, %s", __version__, "%d.%d.%d" % sys.version_info[:3],
                 os.getpid(), settings.app or "the demo app", counted(self.target, "worker"))
        for address, sock in self.listeners:
            log.info("listening at %s (%s)%s", listeners_mod.describe(sock), address,
                     listeners_mod.speaks(address, settings))
        if settings.sources.get("bind", "default") != "default" and \
                any(address.startswith("systemd:") for address, _ in self.listeners):
            log.warning("%s: %s not used: systemd passed the listeners (socket activation)",
                        settings.sources["bind"], ", ".join(settings.bind))
        if self.metrics_listener is not None:
            log.info("metrics at http://%s/metrics", listeners_mod.describe(self.metrics_listener[1]))
        loop = self.loop
        for signum in MASTER_SIGNALS:
            loop.add_signal_handler(signum, self.on_signal, signum)
        # signals blocked until now (by cli, or across a USR2 exec) are delivered from here
        signal.pthread_sigmask(signal.SIG_UNBLOCK, MASTER_SIGNALS)
        reexec.adopt_retiring(self)
        if self.watchdog_interval:  # at once: after a USR2's exec the last ping was up to an interval ago
            loop.call_soon(operations.watchdog, self)
        if settings.reload:
            self.reloader = autoreload.start(self)
        self.generation = 1
        for slot in range(self.target):
            self.respawn(slot, self.generation)
        self.schedule_deadlines()
        try:
            loop.run()
        finally:
            # the exit is decided: a later signal (a second Ctrl-C) must not kill the
            # process with its default action while the interpreter winds down
            for signum in MASTER_SIGNALS:
                if signum != signal.SIGCHLD and not self.reexecuted:
                    signal.signal(signum, signal.SIG_IGN)
            startup.close_all(self)
        log.info("master exiting with status %d", self.exit_code)
        return self.exit_code

    def on_signal(self, signum):
        handler = {
            signal.SIGTERM: lambda: stopping.graceful_stop(self), signal.SIGINT: lambda: stopping.fast_stop(self),
            signal.SIGQUIT: lambda: stopping.fast_stop(self), signal.SIGHUP: lambda: reload.reload(self),
            signal.SIGTTIN: lambda: scaling.more_workers(self), signal.SIGTTOU: lambda: scaling.fewer_workers(self),
            signal.SIGUSR1: self.reopen_logs, signal.SIGUSR2: lambda: reexec.reexec(self),
            signal.SIGCHLD: self.reap_soon,
        }[signum]
        handler()

    # -- workers ---------------------------------------------------------------------------
    def spawn(self, slot, generation, settings=None, retried=True):
        """A new worker's handle, or None when no process could be made now (logged;
        ``retried``: the caller tries again, workers_mod.retry_delay)."""
        return workers_mod.spawn(self, slot, generation, settings, retried)

    def on_message(self, worker):
        messages = worker.channel.receive()
        if messages is None:
            self.loop.remove_reader(worker.channel.fileno())
            return
        for message in messages:
            kind = message.get("t")
            worker.last_beat = time.monotonic()
            if kind == "hb":
                worker.stats = message.get("stats") or {}
            elif kind == "ready" and not stopping.drains_once_ready(self, worker):
                worker.ready = True
                self.on_ready(worker)
            elif kind == "recycle":
                self.recycle(worker, "reached max_requests", "recycle")
            elif kind == "exiting":  # its exit work is bounded by the graceful kill, not heartbeats
                worker.exiting = True
                if worker.kill_at is None:  # (an exit of its own: sys.exit() in the app, the master unseen)
                    worker.kill_at = time.monotonic() + worker.settings.graceful_timeout
                    self.schedule_deadlines()
            elif kind == "draining":
                self.loop.after_signals(self.replace_draining, worker)
            elif kind == "boot_error":
                worker.boot_error = message.get("error")

    def on_ready(self, worker):
        deadlines.check_ready_memory(self, worker)
        if worker.replaces is not None:
            old = self.workers.get(worker.replaces)
            if old is not None:
                self.retire(old, old.recycle_reason or "recycle")
        pending = self.new_generation
        if pending is not None and worker.generation == pending[0] and reload.new_generation_ready(self):
            reload.finish_reload(self)
        self.check_booted()
        self.update_title()

    def check_booted(self):
        """The first time every serving worker is ready (of the first generation, or of a
        reload's that took over before the first finished booting)."""
        if not self.booted and not self.stopping and workers_mod.serving_ready(self):
            self.booted = True
            systemd.notify(f"READY=1\nSTATUS={self.status()}\nMAINPID={os.getpid()}")

    def status(self):
        live = [w for w in self.workers.values() if w.stats]
        active = sum(w.stats.get("connections", 0) for w in live)
        return f"{counted(len(self.serving_by_slot()), 'worker')}, {counted(active, 'active connection')}"

    def serving_by_slot(self):
        """{slot: the worker serving in it}: of the current generation, not draining, a
        ready one before a replacement still booting (the newest of those)."""
        slots = {}
        for worker in self.workers.values():
            if worker.generation == self.generation and not worker.retiring:
                current = slots.get(worker.slot)
                if current is None or (worker.ready, worker.started) > (current.ready, current.started):
                    slots[worker.slot] = worker
        return slots

    # -- systemd and metrics ------------------------------------------------------------------
    def update_title(self):
        setproctitle(f"prefork: master [{self.settings.name}]")

    def retire(self, worker, reason):
        """Tell ``worker`` to drain; it is killed if still there after graceful_timeout."""
        if worker.retiring:
            return
        worker.retiring = True
        worker.kill_at = time.monotonic() + worker.settings.graceful_timeout  # (as it times its own drain)
        self.restarts[reason] = self.restarts.get(reason, 0) + 1
        self.kill(worker.pid, signal.SIGTERM)
        self.schedule_deadlines()

    def kill(self, pid, signum):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def reap_soon(self):
        """SIGCHLD: reap on the next loop turn, after the other signals read with it.

        Signals pending together are delivered nested, the highest number (CHLD) first,
        so a stop signal and the exit it caused can be read in the wrong order."""
        self.loop.call_soon(self.reap)

    def reap(self):
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if self.foreign.pop(pid, None) is not None:
                log.info("worker (pid %d) of the previous master stopped: %s", pid, deaths.exit_description(status))
            reexec.checked(self, pid, status)
            worker = self.workers.pop(pid, None)
            if worker is not None:
                # its CPU time stays in its slot's counter (metrics.py)
                self.cpu_gone[worker.slot] = self.cpu_gone.get(worker.slot, 0.0) + usage.ru_utime + usage.ru_stime
                self.worker_exited(worker, status)
        if self.stopping and not self.workers and not self.foreign:
            self.loop.stop()

    def worker_exited(self, worker, status):
        self.loop.remove_reader(worker.channel.fileno())
        self.on_message_tail(worker)
        worker.channel.close()
        code = os.waitstatus_to_exitcode(status)
        how = deaths.exit_description(status)
        self.aggregator.fold(worker.stats)
        worker.stats = {}
        if worker.retiring or self.stopping:
            log.info("worker %d (pid %d) stopped: %s", worker.slot, worker.pid, how)
            return
        pending = self.new_generation
        if not worker.ready:
            # the worker logged its error in full (a traceback): the master says its last line
            error = (worker.boot_error or "").strip().splitlines()
            if worker.generation == 1 and not self.booted and worker.replaces is None and \
                    not workers_mod.killed_from_outside(worker, status):  # (a replacement's: its worker serves on)
                if self.reloader is not None and self.reloader.watching():
                    # development reload: the next change to the app tries again, as uvicorn's reloader does
                    if not self.boot_failed:
                        log.error("worker %d (pid %d) failed to boot (%s)%s; reload: trying again at the next "
                                  "change", worker.slot, worker.pid, how, ":\n" + error[-1] if error else "")
                    self.boot_failed = True
                    return
                said = "worker %d (pid %d) failed to boot (%s); stopping%s" % (
                    worker.slot, worker.pid, how, ":\n" + error[-1] if error else "")
                log.error("%s", said)
                logs.tell_starter(said, logged=True)  # (seen where the start was, not only in the error log)
                self.exit_code = EXIT_BOOT_FAILURE
                stopping.fast_stop(self, previous=False)  # (a USR2's previous workers finish their drain)
                return
            if pending is not None and worker.generation == pending[0] and not reload.boot_killed(self, worker, status):
                log.error("reload aborted: a new worker failed to boot (%s)%s", how, ":\n" + error[-1] if error else "")
                reload.abort_reload(self, f"a new worker failed to boot ({how})" + (f": {error[-1]}" if error else ""),
                                    said=f"a new worker failed to boot ({how})")
                return
        if worker.generation != self.generation and (pending is None or worker.generation != pending[0]):
            return  # an old generation's: it is not replaced
        if worker.slot >= (self.target if worker.generation == self.generation else self.pending_target):
            return
        reason = "timeout" if worker.aborted_at is not None else ("crash" if code != 0 else "exit")
        self.restarts[reason] = self.restarts.get(reason, 0) + 1
        lived = time.monotonic() - worker.started
        failures = self.failures.get(worker.slot, 0) + 1 if lived < QUICK_DEATH else 1
        self.failures[worker.slot] = failures
        delay = 0.0 if failures <= 1 else min(BACKOFF_CAP, 0.1 * 2 ** (failures - 2))
        old = self.workers.get(worker.replaces) if worker.replaces is not None and not worker.ready else None
        if old is not None and not old.retiring:  # the one it was to replace serves on, and is replaced later
            error = (worker.boot_error or "").strip().splitlines()
            log.warning("worker %d (pid %d), started to replace pid %d (%s), failed to boot (%s)%s; pid %d serves "
                        "on, and its replacement is tried again in %.1f s (quick death #%d)", worker.slot,
                        worker.pid, old.pid, old.recycle_why, how, f": {error[-1]}" if error else "", old.pid,
                        delay, failures)
            self.loop.call_later(delay, self.recycle_again, old)
            return
        log.warning("%s", deaths.replacing(worker, how, lived, delay, failures,
                                           code == -signal.SIGKILL and worker.aborted_at is None))
        if delay:
            self.loop.call_later(delay, self.respawn, worker.slot, worker.generation)
        else:
            self.respawn(worker.slot, worker.generation)

    def on_message_tail(self, worker):
        """Read what the worker wrote just before it exited (its last counts, a boot error)."""
        messages = worker.channel.receive()
        for message in messages or ():
            if message.get("t") == "boot_error":
                worker.boot_error = message.get("error")
            elif message.get("t") == "hb":
                worker.stats = message.get("stats") or {}

    def retry_boot(self):
        """reload: a change after the first generation failed to boot starts its workers again."""
        self.boot_failed = False
        self.failures.clear()
        for slot in range(self.target):
            self.respawn(slot, self.generation)

    def respawn(self, slot, generation):
        """Start a worker in ``slot`` of the serving generation, or of a reload's booting
        one (its settings), unless one is there."""
        pending = self.new_generation
        if pending is not None and generation == pending[0]:
            settings, target = pending[1], self.pending_target
        elif generation == self.generation:
            settings, target = None, self.target
        else:
            return
        if self.stopping or slot >= target:
            return
        if any(w.slot == slot and w.generation == generation and not w.retiring for w in self.workers.values()):
            return
        if self.spawn(slot, generation, settings) is None:
            self.loop.call_later(workers_mod.retry_delay(self, slot), self.respawn, slot, generation)

    def recycle(self, worker, why, reason):
        """Replace ``worker`` (``reason``: recycle, memory): start its replacement first,
        retire it once that is ready. A worker of a reload's new generation, not serving
        yet as the current one, is replaced at the switch-over (``reload.switch_over``)."""
        if worker.retiring or self.stopping:
            return
        if worker.generation != self.generation:
            pending = self.new_generation
            if pending is not None and worker.generation == pending[0] and worker.recycle_wanted is None:
                log.info("worker %d (pid %d) %s; replacing it once generation %d takes over", worker.slot,
                         worker.pid, why, worker.generation)
                worker.recycle_wanted = (why, reason)  # the worker asks once: kept until then
            return
        if any(w.replaces == worker.pid for w in self.workers.values()):
            return
        log.info("worker %d (pid %d) %s; replacing it", worker.slot, worker.pid, why)
        worker.recycle_reason, worker.recycle_why = reason, why  # kept until it is replaced: it asks once
        replacement = self.spawn(worker.slot, worker.generation)
        if replacement is None:
            self.loop.call_later(workers_mod.retry_delay(self, worker.slot), self.recycle_again, worker)
        else:
            replacement.replaces = worker.pid
            replacement.replaced_for = reason

    def replace_draining(self, worker):
        """``worker`` drains on a TERM the master did not send (to its pid): it accepts no
        more, so its replacement starts now, as after TTOU, and it shows as draining."""
        if self.workers.get(worker.pid) is not worker or worker.retiring or self.stopping \
                or worker.generation != self.generation:
            return  # the master's own doing (a retire, a stop, a reload), or gone already
        log.info("worker %d (pid %d) drains on a signal sent to it; replacing it", worker.slot, worker.pid)
        worker.retiring = True
        worker.kill_at = time.monotonic() + worker.settings.graceful_timeout
        self.restarts["exit"] = self.restarts.get("exit", 0) + 1
        self.schedule_deadlines()
        self.respawn(worker.slot, worker.generation)

    def recycle_again(self, worker):
        """Its replacement could not start or failed to boot: try again, if it still serves."""
        if self.workers.get(worker.pid) is worker:
            self.recycle(worker, worker.recycle_why, worker.recycle_reason)

    # -- deadlines ---------------------------------------------------------------------------
    def schedule_deadlines(self):
        deadlines.schedule(self)

    def close_listeners(self):
        for _, sock in self.listeners:
            try:
                sock.close()
            except OSError:  # (a descriptor closed already: the stop goes on)
                pass

    def reopen_logs(self):
        reopen.reopen_logs(self)

