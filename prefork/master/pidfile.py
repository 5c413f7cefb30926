"""The pidfile: written atomically (temporary file + rename), removed only if it is ours.

Rules:
- A pidfile naming a live prefork master other than this process means that daemon
  runs: ``holder`` names it and the master refuses to start. A pidfile naming a process
  that is gone, or one that is not a prefork master (its PID was reused), is stale and
  is replaced.
"""

import os


def write(path, pid=None):
    pid = os.getpid() if pid is None else pid
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{pid}.tmp")
    try:
        with open(tmp, "w") as fh:
            fh.write(f"{pid}\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)  # a pidfile that cannot be put in place leaves nothing behind
        except OSError:
            pass
        raise


def remove(path, pid=None):
    pid = os.getpid() if pid is None else pid
    try:
        with open(path) as fh:
            if fh.read().strip() != str(pid):
                return False
        os.unlink(path)
        return True
    except (OSError, ValueError):
        return False


def holder(path):
    """The PID of the live prefork master (not this process) that ``path`` names, or None."""
    try:
        with open(path) as fh:
            pid = int(fh.read().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            title = fh.read()
    except OSError:
        return None
    return pid if title.startswith(b"prefork: master") else None
