"""Where the logs write: opening a log path, and whole lines for a pipe.

Rules:
- No open of a log path waits: ``O_NONBLOCK`` makes a FIFO with no reader an error at
  once (ENXIO) where a plain open would block the process for ever; the descriptor is
  made blocking again (writes wait for a full pipe, as they do on stderr). A booting
  worker's access log is the exception: its FIFO may have lost its reader since the
  start (or been made anew): the worker boots all the same (a crashed worker is
  replaced), writing to a copy of the write end the master holds (its writes refused,
  the lines dropped and reported, as the other workers' are) or, with none, to
  nothing, until a USR1 finds a reader. Never a descriptor that reads: a reader that
  never reads would make every other writer block once the pipe is full.
- A log FIFO's reader never sees the end of its stream while the daemon runs: the
  write end the start-time check opened (checks.py) is held for the process's life
  (``hold_fifo``), so every later open and close (``logs.setup``'s trial, a reopen on
  USR1, a worker's exit) leaves a writer. A FIFO whose reader is gone stays an error
  at start (exit 2) and on USR1 (the old descriptor kept).
- A log path that is surely none is refused (``check_destination``): a switch word
  (``false``: uvicorn's ``access_log`` is on/off) or, when no such file exists, an app
  spec (``main:app``: uvicorn's ``--access-log`` before the app made it the path).
- ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` (and ``/proc/self/fd/N``) are the
  process's own descriptors, copied (``os.dup``), never opened by path: opening
  ``/dev/stdout`` fails on a socket (ENXIO, systemd's journal), and on a file it makes a
  second file description whose offset fights the app's writes to fd 1. ``/dev/stderr``
  is the stderr the process started with (logs.py keeps a copy). USR1 leaves them alone.
- A line written to a pipe or a socket is at most PIPE_BUF bytes (one ``os.write``
  each, so two workers' lines never mix): a longer one is cut (``line_chunks``), its
  middle replaced by ``...``, never inside a UTF-8 character or a ``\\xHH`` escape.
"""

import errno
import fcntl
import logging
import os
import re

log = logging.getLogger("prefork")

_fifo_writers = {}  # a log FIFO's path: the write end held for the process's life


SWITCH_WORDS = frozenset(("true", "false", "yes", "no", "on", "off", "1", "0"))
_APP_SPEC = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\(.*\))?", re.S)
_LOG_SUFFIXES = (".log", ".txt", ".out", ".err", ".json")


def check_destination(name, value):
    """``value`` of ``name`` (access_log, error_log) is no switch word nor an app spec;
    raises ValueError saying what to write (settings.load puts the source first). True
    for a descriptor of the process's own (its file is not looked at), when it is open."""
    if name not in ("access_log", "error_log"):
        return False
    own = own_descriptor(value)
    if own is not None:
        try:
            flags = fcntl.fcntl(own, fcntl.F_GETFL)
        except (OSError, OverflowError, ValueError):
            raise ValueError(f"{value}: descriptor {own} is not open") from None
        if flags & os.O_ACCMODE == os.O_RDONLY:
            raise ValueError(f"{value}: descriptor {own} is open for reading only")
        return True
    access = name == "access_log"
    ways = "- (stderr) or a file's path" + (", and an empty value turns it off" if access else "")
    switch = "uvicorn's access_log is an on/off switch; " if access else ""
    if value.lower() in SWITCH_WORDS:
        raise ValueError(f"{value!r} is no log destination: {name} takes {ways} ({switch}a file of that "
                         f"name: write ./{value})")
    module = value.partition(":")[0].lower()
    if _APP_SPEC.fullmatch(value) and not module.endswith(_LOG_SUFFIXES) and not value.lower().endswith(
            _LOG_SUFFIXES) and not os.path.exists(value):
        raise ValueError(f"{value!r} looks like an app (module:attribute), not a log file: {name} takes {ways}; "
                         f"name the app after the options ({switch}a file of that name: write ./{value})")
    return False


_OWN = re.compile(r"/dev/(?:(stdout)|(stderr)|fd/(\d+))|/proc/self/fd/(\d+)")


def own_descriptor(path):
    """The descriptor of the process's own that ``path`` names (``/dev/stdout`` 1,
    ``/dev/stderr`` 2, ``/dev/fd/N`` and ``/proc/self/fd/N`` N), or None."""
    match = _OWN.fullmatch(path)
    if match is None:
        return None
    stdout, stderr, fd, proc_fd = match.groups()
    return 1 if stdout else 2 if stderr else int(fd or proc_fd)


def open_append(path, stderr=2, readerless=False):
    """``path`` opened for appending (created 0o666 less the umask), close-on-exec; a
    path naming a descriptor of the process's own, a copy of that descriptor (of
    ``stderr`` for fd 2: the stderr the process started with). ``readerless``: a FIFO
    with no reader is opened all the same (a booting worker's access log)."""
    own = own_descriptor(path)
    if own is not None:
        return os.dup(stderr if own == 2 else own)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        if exc.errno != errno.ENXIO or not readerless:
            raise
        # a FIFO whose reader is gone (or one made anew, with no reader yet): the worker
        # boots all the same, writing where the other workers write (a copy of the write
        # end the master holds: refused writes, dropped and reported, until a USR1 finds
        # a reader), or, with none held, nowhere until then
        log.error("log %s: a FIFO with no reader; its lines are dropped until a USR1 finds one", path)
        held = _fifo_writers.get(path)
        return os.dup(held) if held is not None else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    os.set_blocking(fd, True)
    return fd


def hold_fifo(path, fd):
    """Keep ``fd``, a write end of the FIFO at ``path``, open for the process's life;
    one held before for the path is closed once this one is held (never a moment with
    none)."""
    old = _fifo_writers.get(path)
    _fifo_writers[path] = fd
    if old is not None and old != fd:
        os.close(old)


def line_chunks(data, size):
    """Pieces of ``data`` of at most ``size`` bytes that end at line ends; a line longer
    than ``size`` is cut to fit (``_cut``): on a pipe a longer write may interleave with
    another worker's, which would break both lines."""
    start = 0
    while start < len(data):
        end = start + size
        if end >= len(data):
            yield data[start:]
            return
        cut = data.rfind(b"\n", start, end)
        if cut < 0:
            cut = data.find(b"\n", end)
            if cut < 0:
                cut = len(data) - 1
            yield _cut(data[start:cut + 1], size)
        else:
            yield data[start:cut + 1]
        start = cut + 1


_CUT = b"..."


def _cut(line, size):
    """``line`` (with its newline) in ``size`` bytes: its start and its end, the middle
    (the long field, in a format like the default) replaced by ``...``; no UTF-8
    character and no ``\\xHH`` escape (logformat.escape) is split."""
    head = size // 2
    tail = len(line) - (size - head - len(_CUT))
    while head > 0 and 0x80 <= line[head] < 0xC0:
        head -= 1  # not inside a UTF-8 sequence
    while tail < len(line) and 0x80 <= line[tail] < 0xC0:
        tail += 1
    start = _escape_around(line, head)
    if start is not None:
        head = start  # the whole escape goes with the middle
    start = _escape_around(line, tail)
    if start is not None:
        tail = start + 4
    return line[:head] + _CUT + line[tail:]


def _escape_around(line, at):
    """The start of the ``\\xHH`` escape that ``at`` falls inside (after its first
    byte), or None. A client's backslash is always escaped (``\\x5C``), so a ``\\x``
    in a line starts an escape."""
    for start in range(max(0, at - 3), at):
        if line[start:start + 2] == b"\\x":
            return start
    return None
