"""Where prefork was started: the directory, by its path, a relative ``chdir`` and the
app's search start from (``apps.search_dirs``).

Rules:
- ``started_in`` is $PWD when it names the working directory (the shell's path, through
  a symbolic link, as gunicorn reads it), else the working directory's path; the daemon
  remembers it at its start (``remember_start``), for the master and the workers it forks.
- A path, not the directory: one a deploy replaced is followed (``follow_start``).
- A working directory removed before the start is named by its path ($PWD's, else the
  one Linux gives): ``start_removed`` says so while no directory has that path again.
"""

import os

_started_in = None  # set by remember_start (the daemon, at its start)
_start_gone = False  # (remember_start: the working directory had been removed)


def started_in():
    """Where prefork was started, as a path: $PWD when it names the working directory (the
    path the shell took, through a symbolic link, as gunicorn reads it), else the working
    directory's path. A path, not the directory: one replaced since (a deploy that
    recreated it, or swapped the link) is the new one. Read now unless the daemon
    remembered it at its start (``remember_start``). A working directory removed before
    the start is still named by its path ($PWD's, else the kernel's): ``start_removed``."""
    if _started_in is not None:
        return _started_in
    logical = os.environ.get("PWD", "")
    try:
        here = os.getcwd()
    except FileNotFoundError:  # (removed)
        return logical if os.path.isabs(logical) else _removed_cwd()
    try:
        return logical if os.path.isabs(logical) and os.path.samefile(logical, here) else here
    except OSError:
        return here


def _removed_cwd():
    """The path the working directory had before it was removed (Linux names it), or "."."""
    try:
        return os.readlink("/proc/self/cwd").removesuffix(" (deleted)")
    except OSError:
        return "."


def _cwd_removed():
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def start_removed():
    """Whether prefork was started in a directory already removed, and no directory has its
    path now (a deploy may have made it again: that one is the app's)."""
    gone = _start_gone if _started_in is not None else _cwd_removed()
    return gone and not os.path.isdir(started_in())


def remember_start():
    """The daemon's start: ``started_in`` is this directory's path from now on, in the
    master and the workers it forks."""
    global _started_in, _start_gone
    _start_gone = _cwd_removed()
    _started_in = started_in()


def follow_start():
    """Change to the directory prefork was started in when the working directory is no
    longer the one its path names (removed, or replaced by a deploy); best effort: one
    gone for good leaves the process where it is."""
    try:
        if os.path.samestat(os.stat("."), os.stat(started_in())):
            return
        os.chdir(started_in())
    except OSError:
        pass
