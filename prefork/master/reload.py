"""HUP: reload. The configuration is read again; a bad one changes nothing. A good one
starts a new generation of workers, and the old generation drains only once every new
worker has reported ready; if a new worker fails to boot, the reload is abandoned.
Readiness (``/readyz``) is withdrawn from that switch-over until the old generation has
gone, and ``readiness_withdraw`` seconds pass between withdrawing it and the old
generation's drain.

The new generation has as many workers as the running one (TTIN/TTOU's count is kept),
unless the configuration's own ``workers`` value changed since the last load: then that
value wins."""

import logging
import signal
import time

from .. import logs, settings as settings_mod
from . import systemd

log = logging.getLogger("prefork.master")


def reload(master):
    if master.stopping:
        return
    if master.new_generation is not None:
        log.warning("reload already in progress; HUP ignored")
        return
    systemd.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
    try:
        new = master.reload_settings()
    except settings_mod.ConfigError as exc:
        for problem in exc.problems:
            log.error("reload: %s", problem)
        log.error("reload refused: keeping the running configuration")
        systemd.notify("READY=1")
        return
    for setting in settings_mod.SETTINGS:
        if not setting.reloadable and new.values[setting.name] != master.settings.values[setting.name]:
            log.warning("reload: %s changed but needs a restart (or USR2); keeping %r", setting.name,
                        master.settings.values[setting.name])
            new.values[setting.name] = master.settings.values[setting.name]
    logs.setup(new)
    master.reloads += 1
    generation = master.generation + 1
    master.new_generation = (generation, new)
    count = new.workers if new.workers != master.settings.workers else master.target
    log.info("reload: starting generation %d with %d workers", generation, count)
    master.pending_target = count
    for slot in range(count):
        master.spawn(slot, generation, new)

def finish_reload(master):
    """Every new worker is ready: readiness is withdrawn, and the old generation drains
    after the new settings' ``readiness_withdraw`` seconds (at once when 0)."""
    if master.switching:
        return
    master.switching = True
    generation, new = master.new_generation
    if new.readiness_withdraw > 0:
        log.info("reload: generation %d booted; readiness withdrawn, the old generation drains in %.1f s",
                 generation, new.readiness_withdraw)
        master.loop.call_later(new.readiness_withdraw, switch_over, master)
    else:
        switch_over(master)


def switch_over(master):
    master.switching = False
    if master.stopping or master.new_generation is None:
        return
    generation, new = master.new_generation
    master.new_generation = None
    old = [w for w in master.workers.values() if w.generation != generation]
    master.settings = new
    master.generation = generation
    master.target = master.pending_target
    for worker in old:
        master.retire(worker, "reload")
    for slot in range(master.target):  # a new worker may have died while readiness was withdrawn
        master.respawn(slot, generation)
    log.info("reload: generation %d ready; %d old workers draining", generation, len(old))
    systemd.notify(f"READY=1\nSTATUS={master.status()}")

def abort_reload(master):
    generation, _ = master.new_generation
    master.new_generation = None
    master.pending_target = master.target
    for worker in master.workers.values():
        if worker.generation == generation:
            worker.retiring = True
            master.kill(worker.pid, signal.SIGKILL)
    systemd.notify("READY=1")
