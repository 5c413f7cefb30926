"""TTIN and TTOU: one worker more or fewer.

Rules:
- The count stays within 1 .. ``MAX_WORKERS`` and within what the descriptor limit
  allows (``startup.descriptors``); a request past either is ignored, with the reason
  logged.
- TTIN starts a worker in the next slot of the current generation; TTOU retires the
  workers of the slots past the new count (they drain).
- Ignored during a reload (logged: send it again once the reload is done) and during a
  stop.
"""

import logging

from .. import settings as settings_mod
from . import counted, startup

log = logging.getLogger("prefork.master")


def more_workers(master):
    if master.stopping or count_change_refused(master, "TTIN"):
        return
    if master.target >= settings_mod.MAX_WORKERS:
        log.warning("TTIN ignored: already %s, the most there may be", counted(master.target, "worker"))
        return
    shortage = startup.descriptors(master, master.target + 1)
    if shortage:
        log.warning("TTIN ignored: %s", shortage)
        return
    master.target += 1
    log.info("TTIN: %s", counted(master.target, "worker"))
    master.respawn(master.target - 1, master.generation)


def fewer_workers(master):
    if master.stopping or count_change_refused(master, "TTOU"):
        return
    if master.target <= 1:
        log.warning("TTOU ignored: one worker is the fewest there may be")
        return
    master.target -= 1
    log.info("TTOU: %s", counted(master.target, "worker"))
    for worker in list(master.workers.values()):
        if worker.generation == master.generation and worker.slot >= master.target:
            master.retire(worker, "exit")
    master.check_booted()  # the worker gone may have been the last of the first generation still booting


def count_change_refused(master, name):
    if master.new_generation is None:
        return False
    log.warning("reload in progress; %s ignored (send it again once the reload is done)", name)
    return True

