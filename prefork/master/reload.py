"""HUP: reload. The configuration is read again; a bad one changes nothing. A good one
starts a new generation of workers, and the old generation drains only once every new
worker has reported ready; if a new worker fails to boot, the reload is abandoned.
Readiness (``/readyz``) is withdrawn from that switch-over until the old generation has
gone, and ``readiness_withdraw`` seconds pass between withdrawing it and the old
generation's drain.

A new worker that dies after it reported ready (while ``readiness_withdraw`` holds the
switch-over) is replaced in the new generation, and the switch-over waits until the
replacement is ready: the old generation drains only once every new worker serves. A
replacement that fails to boot, or is not ready ``timeout`` seconds after the switch-over
was due (new workers that keep dying), abandons the reload, as any new worker's boot
failure does; the waits of an abandoned reload end with it. The new workers still booting
are stopped by TERM (a lifespan startup they await is cancelled and runs its ``finally``
blocks: booting.py), killed ``KILL_GRACE`` later if still there; those already serving drain (within their ``graceful_timeout``), as an old
generation does: the requests they accepted are answered.

A new worker killed from outside while it boots (``workers.killed_from_outside``: SIGKILL
from an operator or the OOM killer, with no boot error of its own) did not fail to boot:
it is replaced in its slot with the backoff of any respawn, and the reload goes on. The
same slot's new workers killed so ``BOOT_KILLS`` times in one reload abandon it (a new
configuration the host cannot run, as an OOM killer says it).

A new worker that asks to be replaced (``max_requests`` reached, ``max_worker_memory``
passed) before the switch-over is replaced right after it, as any serving worker.

The new generation has as many workers as the running one (TTIN/TTOU's count is kept),
unless the configuration's own ``workers`` value changed since the last load: then that
value wins.

A HUP that arrives while a reload is under way is not dropped: one more reload starts
once the current one has switched over or failed (several such HUPs make one). A reload
that changes nothing (a bad configuration, a log file that cannot be opened, a new
worker that fails to boot) is counted (``prefork_reload_failures``) and its reason is
shown on ``/status.json`` until a reload succeeds. Its log says each problem once
(``reload: PROBLEM``), then one outcome line (``reload refused (N problems, above)...``)
that counts them rather than repeats them; a reason not logged before is in the outcome. A reload that would change what a
listener speaks (a ``bind`` entry without a scheme speaks TLS when ``certfile`` is set:
a HUP that drops or adds ``certfile`` would turn it into plain HTTP or HTTPS) is refused
so, as ``bind`` itself needs a restart (or USR2). The master logs as the new settings
say from the moment their generation starts (its workers inherit that); a reload
abandoned goes back to the running settings' error log and level. Before it reads the
configuration, the master changes to the directory prefork was started in, by its
path, when a deploy replaced it (``apps.follow_start``); one gone for good refuses a
reload only when a relative path needs it. systemd is told ``RELOADING=1`` at a reload's
start and ``READY=1`` at its outcome only when the daemon was ready at the start: a
reload begun while the first generation boots says neither (the first ``READY=1``, of
whichever generation serves first, ends the start)."""

import logging
import signal
import time

from .. import logs, settings as settings_mod
from ..apps import follow_start, started_in
from . import counted, listeners, startup, stopping, systemd, workers
from .deadlines import KILL_GRACE

log = logging.getLogger("prefork.master")

BOOT_KILLS = 5  # a slot's new workers killed from outside while booting, in one reload, that abandon it


def reload(master):
    if master.stopping:
        return
    if master.new_generation is not None:
        # the configuration may have changed again since this reload read it
        master.reload_queued = True
        log.warning("reload already in progress; another one starts when it is done")
        return
    if master.reexec_check is not None:
        # a USR2's check runs: its re-exec reads the configuration anew (a reload started
        # now would be dropped by it); if it is refused, the reload runs then
        master.reload_queued = True
        log.info("HUP: a re-exec (USR2) is being checked; the reload waits for its outcome")
        return
    # (before the first READY=1, none: check_booted's ends the start, whichever
    # generation serves first; a READY=1 at this reload's outcome would be a second one)
    master.reload_announced = master.booted
    if master.booted:
        systemd.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
    startup.restore_pidfile(master)
    follow_start()  # the directory prefork started in, replaced by a deploy: relative paths name the new one
    try:
        new = master.reload_settings(master.settings)  # (what it cannot change is not checked again)
    except settings_mod.ConfigError as exc:
        for problem in exc.problems:
            log.error("reload: %s", problem)
        failed(master, f"configuration: {exc.problems[0]}"
               + (f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""), len(exc.problems))
        return
    except FileNotFoundError:  # a relative path, and the directory prefork started in is gone
        failed(master, f"configuration: {started_in()}, the directory prefork was started in, is gone: relative "
                       f"paths cannot be read")
        return
    for setting in settings_mod.SETTINGS:
        if not setting.reloadable and new.values[setting.name] != master.settings.values[setting.name]:
            kept = master.settings.values[setting.name]
            log.warning("reload: %s changed but needs a restart (or USR2); keeping %s", setting.name,
                        f"0o{kept:03o}" if setting.kind == "octal" else repr(kept))
            new.values[setting.name] = master.settings.values[setting.name]
    settings_mod.derive_workers(new.values, new.sources)  # (from the reload setting kept)
    strays = settings_mod.unbound_proxy_listeners(new.values)  # (against the bind kept: a new one is not applied)
    if strays:
        problem = f"{startup.where(new, 'proxy_protocol_bind')}: {strays[0]} is not one of the bind addresses in use"
        log.error("reload: %s", problem)
        failed(master, f"configuration: {problem}", 1)
        return
    for warning in new.warnings:
        log.warning("reload: %s", warning)
    flips = tls_flips(master, new)
    if flips:
        for flip in flips:
            log.error("reload: %s", flip)
        failed(master, flips[0] + (f" (and {len(flips) - 1} more)" if len(flips) > 1 else ""), len(flips))
        return
    count = new.workers if new.workers != master.settings.workers else master.target
    shortage = startup.descriptors(master, count)
    if shortage:
        log.error("reload: %s: %s", startup.where(new, "workers"), shortage)
        failed(master, f"configuration: {shortage}", 1)
        return
    try:
        logs.setup(new)
    except OSError as exc:
        failed(master, f"cannot open {exc.filename}: {(exc.strerror or str(exc)).lower()}")
        return
    generation = master.generation + 1
    master.new_generation = (generation, new)
    master.reload_kills = {}
    log.info("reload: starting generation %d with %s", generation, counted(count, "worker"))
    master.pending_target = count
    for slot in range(count):
        if master.spawn(slot, generation, new, retried=False) is None:
            abort_reload(master, "a new worker could not be started")
            return


def boot_killed(master, worker, status):
    """Whether ``worker``, of the reload's new generation and not ready when it died, was
    killed from outside and is to be replaced (counted: the ``BOOT_KILLS``-th of its slot in
    one reload is not, and the reload is abandoned as for a boot failure)."""
    if not workers.killed_from_outside(worker, status):
        return False
    kills = master.reload_kills[worker.slot] = master.reload_kills.get(worker.slot, 0) + 1
    if kills >= BOOT_KILLS:
        log.error("reload: new worker %d was killed by a signal while booting, %d times in this reload",
                  worker.slot, kills)
        return False
    return True


def tls_flips(master, new):
    """The listeners that would change between TLS and plain HTTP under ``new``, in words
    (the running ``bind`` is kept by then: only ``certfile``, set or not, can change what
    an entry without a scheme speaks)."""
    old = master.settings
    if bool(new.values.get("certfile")) == bool(old.values.get("certfile")):
        return []
    from ..net.tlsconfig import listener_tls  # (here only: a master without TLS never loads ssl)
    flips = []
    for address, sock in master.listeners:
        was, will = listener_tls(address, old), listener_tls(address, new)
        if was != will:
            why = "certfile is no longer set" if was else "certfile is now set"
            flips.append(f"{listeners.describe(sock)} ({address}) would change from {_speaks(was)} to "
                         f"{_speaks(will)} ({why}): that needs a restart (or USR2)")
    return flips


def _speaks(tls):
    return "TLS" if tls else "plain HTTP"


def failed(master, reason, logged=0, said=None):
    """A reload that changed nothing: counted, and shown on /status.json. ``logged``: the
    problems already logged one a line (``reload: PROBLEM``), which the outcome line
    counts rather than repeats; ``said``: the one problem logged in full above, named
    in short; with neither, it says the reason."""
    master.reload_failures += 1
    master.last_reload_error = reason
    if logged:
        log.error("reload refused (%s, above); keeping the running configuration and workers",
                  counted(logged, "problem"))
    elif said:
        log.error("reload refused: %s, above; keeping the running configuration and workers", said)
    else:
        log.error("reload refused: %s; keeping the running configuration and workers", reason)
    ready_again(master)
    run_queued(master)


def ready_again(master):
    """The reload's outcome: ``READY=1`` ends the ``RELOADING=1`` it began with (none
    when it began before the daemon was first ready)."""
    if master.reload_announced:
        master.reload_announced = False
        systemd.notify(f"READY=1\nSTATUS={master.status()}")


def run_queued(master):
    if master.reload_queued:
        master.reload_queued = False
        master.loop.call_soon(reload, master)

def new_generation_ready(master):
    """Every slot of the reload's new generation has a ready worker, and none of its
    workers still boots (a ready one that died while readiness was withdrawn is
    replaced by one that must boot too)."""
    generation = master.new_generation[0]
    fresh = [w for w in master.workers.values() if w.generation == generation and not w.retiring]
    ready_slots = {w.slot for w in fresh if w.ready}
    return all(w.ready for w in fresh) and all(slot in ready_slots for slot in range(master.pending_target))


def finish_reload(master):
    """Every new worker is ready: readiness is withdrawn, and the old generation drains
    after the new settings' ``readiness_withdraw`` seconds (at once when 0). Called again
    when a replacement of a new worker becomes ready while the switch-over waits for it."""
    if master.switching:
        if master.switch_limit is not None:  # the switch-over waited for this worker
            switch_over(master)
        return
    master.switching = True
    generation, new = master.new_generation
    if new.readiness_withdraw > 0:
        log.info("reload: generation %d booted; readiness withdrawn, the old generation drains in %.1f s",
                 generation, new.readiness_withdraw)
        master.switch_timer = master.loop.call_later(new.readiness_withdraw, switch_over, master)
    else:
        switch_over(master)


def switch_over(master):
    """The old generation drains and the new one is the current one, once every new
    worker is ready: one that replaces a new worker that died meanwhile is waited for
    (readiness stays withdrawn, the old generation serves on); if it fails to boot, the
    reload is abandoned (``abort_reload``)."""
    master.switch_timer = None
    if master.stopping or master.new_generation is None:
        master.switching = False
        cancel_timers(master)
        return
    if not new_generation_ready(master):
        if master.switch_limit is None:
            timeout = master.new_generation[1].timeout
            log.info("reload: generation %d waits for a replaced worker to boot before the switch-over (up to "
                     "%.1f s)", master.new_generation[0], timeout)
            master.switch_limit = master.loop.call_later(timeout, switch_late, master)
        return  # on_ready calls finish_reload again
    cancel_timers(master)
    master.switching = False
    generation, new = master.new_generation
    master.new_generation = None
    old = [w for w in master.workers.values() if w.generation != generation]
    master.settings = new
    master.update_title()  # (proc_name)
    master.generation = generation
    master.reloads += 1  # one that took effect (a failed one counts in reload_failures alone)
    master.target = master.pending_target
    for worker in old:
        master.retire(worker, "reload")
    for slot in range(master.target):  # a new worker may have died while readiness was withdrawn
        master.respawn(slot, generation)
    for worker in list(master.workers.values()):  # asked to be replaced before this switch-over
        if worker.generation == generation and worker.recycle_wanted is not None:
            master.recycle(worker, *worker.recycle_wanted)
    log.info("reload: generation %d ready; %s draining", generation, counted(len(old), "old worker"))
    master.check_booted()  # (the first READY=1 when the reload took over before the first generation booted)
    master.last_reload_error = None
    ready_again(master)
    run_queued(master)

def switch_late(master):
    """The replacement the switch-over waited for is not ready after ``timeout`` seconds
    (its workers keep dying, or boot slowly): the reload is abandoned."""
    master.switch_limit = None
    if master.stopping or master.new_generation is None or not master.switching:
        return
    log.error("reload aborted: a worker replacing a new one was not ready within timeout (%.1f s)",
              master.new_generation[1].timeout)  # (the new generation's, which the wait ran on)
    abort_reload(master, "a worker replacing a new one was not ready within timeout",
                 said="a worker replacing a new one was not ready within timeout")


def cancel_timers(master):
    for name in ("switch_timer", "switch_limit"):
        timer = getattr(master, name)
        if timer is not None:
            timer.cancel()
            setattr(master, name, None)


def abort_reload(master, reason, said=None):
    """A new worker failed: the new generation goes, the old one keeps serving.
    ``said``: the failure in short when it was logged in full already (``reload
    aborted: ...``): the outcome line names it rather than repeating it (``failed``)."""
    generation, _ = master.new_generation
    master.new_generation = None
    master.switching = False
    cancel_timers(master)  # (a later reload must not be switched over by them)
    master.pending_target = master.target
    for worker in master.workers.values():
        if worker.generation == generation and not worker.retiring:
            worker.retiring = True
            if worker.ready:  # it accepts already: it finishes what it holds, as an old generation drains
                worker.kill_at = time.monotonic() + worker.settings.graceful_timeout
                master.kill(worker.pid, signal.SIGTERM)
            else:  # TERM: an import ends at once, an awaited lifespan startup is cancelled and
                # runs its finally blocks (booting.py); what is left is killed KILL_GRACE later
                worker.kill_at = time.monotonic() + KILL_GRACE
                stopping.stop_booting(master, worker)
    master.schedule_deadlines()
    try:  # the new generation's logging goes with it: the master's own is as it was
        logs.setup(master.settings)
    except OSError as exc:
        log.error("reload: cannot reopen %s again: %s", exc.filename, (exc.strerror or str(exc)).lower())
    failed(master, reason, said=said)
