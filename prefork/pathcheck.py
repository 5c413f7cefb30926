"""What a path the daemon writes (a log file, the pidfile) or reads a directory of may
be, checked against the host before the start opens it.

Rules:
- ``check_parent`` raises ValueError with what is wrong (``settings.load`` puts
  ``SOURCE:KEY: `` in front): the directory exists; the path is no directory; it is
  writable, or made in its directory, by this process (``os.access``: nothing is
  created). A log FIFO is opened (its write end then held: see logfiles.py); a log on
  the controlling terminal's device (``/dev/tty``, 5:0, at whatever path) is opened and
  closed (with no controlling terminal: ENXIO; never made the controlling terminal), so
  check-config refuses what the start would, in its words. No other device is opened:
  opening one may act (a watchdog arms, a tape rewinds), which a check must not.
- The null device is the character device ``/dev/null`` is, at whatever path
  (``is_null_device``: a chroot's or a container's own node): a config file there holds
  no settings (settings.py); a pidfile there is refused saying how to have none
  (checks.py).
"""

import errno
import os
import stat

from . import logfiles

_TTY = os.makedev(5, 0)  # the controlling terminal's device, /dev/tty (module rules)


def check_parent(path, fifo_ok=False):
    """A file the daemon writes: its directory exists; not a directory (nor a FIFO nobody
    reads); writable, or made in its directory, by this process."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{path}: cannot write: is a directory")
    # as this process would open it (a log file in place, else its directory; a pidfile is
    # made beside itself): a read-only file system (ProtectSystem=strict), no permission
    made_there = fifo_ok or not os.path.exists(path)
    if not os.access(directory if made_there else path, os.W_OK | (os.X_OK if made_there else 0)):
        try:
            read_only = os.statvfs(directory).f_flag & os.ST_RDONLY
        except OSError:
            read_only = False
        raise ValueError(f"{path}: cannot {'write' if fifo_ok else 'open'}: "
                         f"{'read-only file system' if read_only else 'permission denied'}")
    try:
        info = os.stat(path)
        mode, device = info.st_mode, info.st_rdev
    except OSError:
        mode = device = 0
    if fifo_ok:
        return
    if stat.S_ISCHR(mode) and device == _TTY:  # opened as the start opens it (logfiles.open_append)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC))
        except OSError as exc:
            raise ValueError(f"{path}: cannot open: {exc.strerror.lower()}") from None
    if stat.S_ISFIFO(mode):  # its write end is held (logfiles.hold_fifo): a close would end the reader's stream
        try:
            logfiles.hold_fifo(path, os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise ValueError(f"{path}: a FIFO with no reader (opening it would wait for one)") from None


def is_null_device(path):
    """``path`` is the null device: ``/dev/null``'s character device, by any name."""
    try:
        info, null = os.stat(path), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == null.st_rdev


def check_dirs(paths):
    for path in paths:
        if not os.path.isdir(path):
            raise ValueError(f"{path}: {not_a_directory(path)}")


def not_a_directory(path):
    """Why ``path``, which must name a directory, does not: absent, or something else."""
    return "not a directory" if os.path.lexists(path) else "no such directory"
