"""USR1 in the master: the log files reopened, and handed to the workers.

Rules:
- The master reopens its own error log first, then opens each log file as it is now
  and sends the workers its descriptors (the master may open what the workers, with
  dropped privileges, may not); a worker that cannot take them reopens by path on the
  SIGUSR1 sent instead.
- Each worker gets the files of its own generation's settings: while a reload's new
  generation boots with another ``access_log``, its workers get that file, the old
  generation's keep theirs.
- A file the master cannot open is said once, by the master: the workers keep the old
  one, and are not told to try it again each.
"""

import logging
import os
import signal

from .. import logs

log = logging.getLogger("prefork.master")


def reopen_logs(master):
    reopened = logs.reopen()
    by_generation = {None: master.settings}
    pending = master.new_generation  # (generation, settings) while a reload boots
    if pending is not None and pending[1].access_log != master.settings.access_log:
        by_generation[pending[0]] = pending[1]
    sent = {}
    try:
        for generation, settings in by_generation.items():
            # none: no log file, or it cannot be opened (logged once)
            files = sent[generation] = logs.files_for_workers(settings)
            if logs.reopens(settings.access_log) and "access" not in files:
                reopened = False
        for worker in master.workers.values():
            files = sent.get(worker.generation, sent[None])
            if files and not worker.channel.send_fds("reopen", list(files.values()), logs=list(files)):
                master.kill(worker.pid, signal.SIGUSR1)
    finally:
        for files in sent.values():
            for fd in files.values():
                os.close(fd)
    if reopened:
        log.info("log files reopened")
    else:
        log.warning("log files reopened in part: the files above could not be, their old ones are kept")
