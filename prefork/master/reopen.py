"""USR1 in the master: the log files reopened, and handed to the workers.

Rules:
- The master reopens its own error log first, then opens each log file as it is now
  and sends the workers its descriptors (the master may open what the workers, with
  dropped privileges, may not); a worker that cannot take them reopens by path on the
  SIGUSR1 sent instead.
- Each worker gets the files of its own generation's settings (``worker.settings``):
  while a reload's new generation boots with another ``access_log``, its workers get
  that file, the old generation's keep theirs, and so do they while they drain after
  the switch-over.
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
    by_path = {master.settings.access_log: master.settings}  # each generation's access log, once
    for worker in master.workers.values():
        by_path.setdefault(worker.settings.access_log, worker.settings)
    sent = {}
    try:
        for path, settings in by_path.items():
            # none: no log file, or it cannot be opened (logged once)
            files = sent[path] = logs.files_for_workers(settings)
            if logs.reopens(path) and "access" not in files:
                reopened = False
        for worker in master.workers.values():
            files = sent[worker.settings.access_log]
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
