"""The pidfile: written atomically (temporary file + rename), removed only if it is ours.

Rules:
- A pidfile naming a live prefork master other than this process means that daemon
  runs: ``holder`` names it and the master refuses to start. A pidfile naming a process
  that is gone, or one that is not a prefork master (its PID was reused), is stale and
  is replaced.
- Only a pidfile is replaced: a path that holds something else (not a regular file,
  such as a device or a FIFO, or a file whose text is not a PID) is refused with
  ``not_a_pidfile``'s reason before anything is opened or written, as a bind to a UNIX
  path that is not a socket is refused.
- Only a regular file at the pidfile path is ever opened (``read``: looked at first,
  opened non-blocking and checked again): a FIFO, a device or a directory put there is
  never waited on, whether at start, on HUP or at exit.
- The file is written under a name nobody can guess, made new (O_EXCL, O_NOFOLLOW),
  then linked or renamed into place: a symlink someone planted in the pidfile's
  directory (the master may be root) is never written through.
- The pidfile is created only where there is none (a hard link of the written file):
  of two masters started at once, both past the first check, the second finds the
  first's pidfile when it writes its own, and refuses to start (``AlreadyRunning``).
"""

import os
import stat


class AlreadyRunning(Exception):
    """The pidfile names a live prefork master (``pid``) that wrote it meanwhile."""

    def __init__(self, pid):
        super().__init__(pid)
        self.pid = pid


def not_a_pidfile(path):
    """Why ``path`` must not be replaced by a pidfile, or None (nothing there, or a
    pidfile: a regular file holding a PID, or empty)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (not replaced by a pidfile)"
    text = read(path)
    if text is None:
        return None  # (unreadable, or gone meanwhile: writing says why)
    if text and not (text.isdigit() and len(text) < 20):
        return "holds something other than a PID (not replaced by a pidfile)"
    return None


def read(path, limit=64):
    """The first ``limit`` bytes of the regular file at ``path``, stripped; None when
    there is none, it cannot be read, or it is something else (a FIFO is never opened
    where it blocks: a check, then a non-blocking open whose type is checked again)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # (swapped for something else meanwhile)
        return os.read(fd, limit).strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def write(path, pid=None):
    pid = os.getpid() if pid is None else pid
    directory = os.path.dirname(os.path.abspath(path))
    # made new (O_EXCL) under a name nobody can guess: a symlink planted in a directory
    # others may write to can never make the master (root) write through it
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(8).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with open(fd, "w") as fh:
            fh.write(f"{pid}\n")
        try:
            os.link(tmp, path)  # only where there is none: of two starting at once, one takes it
        except FileExistsError:
            running = holder(path)
            if running is not None:
                raise AlreadyRunning(running) from None
            reason = not_a_pidfile(path)
            if reason is not None:
                raise OSError(f"{path} {reason}") from None
            os.replace(tmp, path)  # stale
        except OSError:
            os.replace(tmp, path)  # a file system without hard links
    finally:
        try:
            os.unlink(tmp)  # gone once replaced; a pidfile that cannot be put in place leaves nothing behind
        except OSError:
            pass


def remove(path, pid=None):
    pid = os.getpid() if pid is None else pid
    if read(path) != str(pid).encode():
        return False  # (another's, gone, or not a pidfile: never opened if it would block)
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def holder(path):
    """The PID of the live prefork master (not this process) that ``path`` names, or None."""
    text = read(path)
    if text is None or not text.isdigit() or len(text) >= 20:
        return None  # (never opened where it would block: a FIFO)
    pid = int(text)
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            title = fh.read()
    except OSError:
        return None
    return pid if title.startswith(b"prefork: master") else None
