"""Error log on stdlib logging; access log through a per-worker buffer. Both reopen on USR1.

Rules:
- The error log takes over fd 2 when it is a file, so that tracebacks and the stack dump
  of an aborted worker (faulthandler) land in it. ``access_log = "-"`` still writes to the
  stderr the process started with (a copy of fd 2 taken before), not into that file.
- The access log makes no stdlib ``logging`` call per request. The user's
  ``access_log_format`` is compiled once into a function that builds the line
  (logformat.py: no text from the format reaches the code). A worker compiles the same line into its
  response observer (``AccessLog.observer``): one call per response takes the
  duration and holds the values of the line's fields (and what the metrics count) as
  one tuple; the flush counts the held responses (fixed code from metrics.py) and
  makes their lines, in one pass (``render``), which costs the worker less time per
  request than doing both as each response ends. Before the metrics are read, what
  is held is counted (``settle``; its lines are written once there are
  ``FLUSH_LINES``). A format with a format spec or conversion counts and makes its
  line in the observer. The server calls the observer once the response's last byte
  is in the kernel, so the duration needs no clock read: it runs from the read that
  completed the head (``req.start_time``) to that last write
  (``req.socket.last_activity``).
- Held tuples and the lines of replies the server made itself (``reply_line``, made at
  once) wait in one list (``held``), in the order the responses ended, so the file has
  them in that order.
- The time field is formatted at most once per second of wall-clock time. The
  observer does not look at the clock for it: a timer on the worker's loop renews the
  text at each second (nginx's cached time), so a line has the second in which its
  loop iteration began. The timer makes the lines of the responses held (``settle``)
  before it renews the text, so what is held has one time text, read once per batch.
- Lines wait in the worker's buffer; a flush writes whole lines to an O_APPEND fd with
  one ``os.write`` each (at most PIPE_BUF bytes per write when the fd is a pipe or a
  socket, e.g. stderr under systemd or docker), so
  lines from two workers never interleave inside a line. On a pipe or socket a longer
  line (a long URL or User-Agent) is cut to PIPE_BUF bytes: its start and its end, the
  middle replaced by ``...``. The buffer is flushed when it
  holds ``FLUSH_LINES`` lines, by the owner's timer every ``access_log_flush``
  seconds, before the worker exits, on USR1 (flush, then reopen) and from the SIGABRT
  handler of a hung worker. A worker killed with SIGKILL loses at most the lines of one
  flush interval. ``access_log_flush = 0`` writes every line at once.
- Log files are opened by ``logfiles.py`` (a FIFO's reader is never waited for, and
  its stream never ended by a close), and long lines cut for a pipe there.
- ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N`` are copies of the process's own
  descriptors (``/dev/stderr``: of the stderr it started with, as ``-``), kept on USR1
  (see logfiles.py).
- On USR1 the master, which keeps its privileges, reopens the files and hands each
  worker the new descriptors (workers may run as a user that cannot open them); a
  worker signalled directly reopens by path. A file that cannot be reopened is
  reported in one line and the old one kept.
- A failed write is reported on the error log (once until a write succeeds again) and
  its lines are dropped: the request path never stalls or raises because of the log.
"""

import errno
import logging
import math
import os
import select
import stat
import sys
import time

from . import logformat
from .logfiles import line_chunks, open_append, own_descriptor
from .logformat import compile_format, compile_held, compile_observer, parse_format  # noqa: F401 (compile_format: the tests')

ERROR_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
FLUSH_LINES = 512  # lines held before a flush: about 64 KiB of 128-byte lines

log = logging.getLogger("prefork")
_stderr = None  # a copy of fd 2 made before an error log file took it over: access_log = "-"
STDERR_ENV = "PREFORK_STDERR_FD"  # that copy's fd across a USR2 exec


class _ReopenableFile(logging.StreamHandler):
    def __init__(self, path, take_fd2=False):
        self.path = path
        self.take_fd2 = take_fd2
        super().__init__(self._open())

    def _open(self):
        stream = open(_open(self.path), "a", buffering=1, encoding="utf-8")
        if self.take_fd2:
            os.dup2(stream.fileno(), 2)
        return stream

    def reopen(self):
        """USR1: write to a new file at the same path; one that cannot be opened is
        reported, and the old file kept. A descriptor of the process's own is kept."""
        if own_descriptor(self.path) is not None:
            return True
        try:
            stream = self._open()
        except OSError as exc:
            log.error("error log %s: cannot reopen (%s); still writing to the old file", self.path,
                      (exc.strerror or str(exc)).lower())
            return False
        self._swap(stream)
        return True

    def adopt(self, fd):
        """Write to ``fd``, a file the master opened (it keeps the privileges to)."""
        stream = open(fd, "a", buffering=1, encoding="utf-8")
        if self.take_fd2:
            os.dup2(fd, 2)
        self._swap(stream)

    def _swap(self, stream):
        self.acquire()
        try:
            old = self.stream
            self.stream = stream
            old.close()
        finally:
            self.release()


def tell_starter(line, logged=False):
    """``line`` to stderr (the error log, when a file took it), and to the stderr the
    process was started with when that is elsewhere: what stops the start is seen on the
    terminal or in the journal, not only in a file. ``logged``: the error log has it
    already (a logging call made it): only the starter's stderr gets it."""
    if not logged:
        print(line, file=sys.stderr, flush=True)
    taken = any(isinstance(handler, _ReopenableFile) and handler.take_fd2
                for handler in logging.getLogger("prefork").handlers)
    if taken and _stderr is not None:
        try:
            os.write(_stderr, (line + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def setup(settings):
    """Configure the ``prefork`` logger (errors); check that the access log can be opened.
    A file that cannot be opened raises OSError and leaves the logging as it was."""
    global _stderr
    root = logging.getLogger("prefork")
    if _stderr is None:
        _stderr = _inherited_stderr()
    if _stderr is None:
        try:
            _stderr = os.dup(2)  # the first call: fd 2 is still the process's own stderr
        except OSError:  # no fd 2 at all
            pass
    if settings.access_log and settings.access_log != "-":
        os.close(_open(settings.access_log))  # created now; a bad path fails at start
    if settings.error_log and settings.error_log != "-" and own_descriptor(settings.error_log) != 2:
        handler = _ReopenableFile(settings.error_log, take_fd2=True)
    else:
        if _stderr is not None:
            os.dup2(_stderr, 2)  # the process's own stderr again, where an error log file had taken fd 2
        handler = logging.StreamHandler(sys.stderr)
    for old in list(root.handlers):
        root.removeHandler(old)
    handler.setFormatter(logging.Formatter(ERROR_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    root.propagate = False


def _inherited_stderr():
    """The copy of the original stderr a re-executing master handed over (USR2), or None."""
    value = os.environ.pop(STDERR_ENV, None)
    try:
        fd = int(value)
        os.fstat(fd)
    except (TypeError, ValueError, OSError):
        return None
    os.set_inheritable(fd, False)
    return fd


def stderr_for_exec(handing):
    """USR2: the text naming the copy of the original stderr, made inheritable for the
    exec (``handing``), or None; ``handing`` False takes it back (the exec failed)."""
    if _stderr is None:
        return None
    os.set_inheritable(_stderr, handing)
    return str(_stderr)


def flush_output():  # what stdout and stderr hold: a child ends by os._exit, which writes nothing
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


def reopen():
    """Reopen the error log file (USR1); False when it could not be (logged)."""
    ok = True
    for handler in logging.getLogger("prefork").handlers:
        if isinstance(handler, _ReopenableFile):
            ok = handler.reopen() and ok
    return ok


def error_log_file():
    """The error log's handler when it writes to a file (else None)."""
    for handler in logging.getLogger("prefork").handlers:
        if isinstance(handler, _ReopenableFile):
            return handler
    return None


def files_for_workers(settings):
    """USR1 in the master, after its own reopen: ``{"error": fd, "access": fd}`` of the
    log files as they are now, for the workers (the master may open what they may not).
    Only files are included; the caller closes the descriptors once sent."""
    files = {}
    handler = error_log_file()
    if handler is not None and own_descriptor(handler.path) is None:
        files["error"] = os.dup(handler.stream.fileno())
    if reopens(settings.access_log):
        try:
            files["access"] = _open(settings.access_log)
        except OSError as exc:
            log.error("access log %s: cannot reopen (%s); the workers keep the old file", settings.access_log,
                      (exc.strerror or str(exc)).lower())
    return files


def reopens(path):
    """``path`` is a log file reopened on USR1: not off, ``-``, nor a descriptor of the
    process's own (``/dev/stdout``)."""
    return bool(path) and path != "-" and own_descriptor(path) is None


def _open(path, readerless=False):
    """A log's descriptor: ``/dev/stderr`` is the stderr the process started with."""
    return open_append(path, 2 if _stderr is None else _stderr, readerless)


def adopt(name, fd, access=None):
    """In a worker: write the ``name`` log (error, access) to ``fd`` from the master."""
    handler = error_log_file() if name == "error" else None
    if handler is not None:
        handler.adopt(fd)
    elif name == "access" and access is not None:
        access.adopt(fd)
    else:
        os.close(fd)


class AccessLog:
    """One worker's access log: ``line(req, res, duration)`` is the per-response call."""

    def __init__(self, path, fmt, flush_interval):
        self.path = path  # "-" is the process's stderr, even once an error log file took fd 2
        self.fd = (2 if _stderr is None else _stderr) if path == "-" else _open(path, readerless=True)
        self.pipe = self._is_pipe()
        self.flush_interval = flush_interval
        self.held = []  # the held responses' tuples, and lines made already, in order
        self.lines = []  # the lines made of them, while a flush writes them
        self.replied = [0]  # lines in ``held`` made at once (replies): render() sees them
        self.render = self._render_lines  # (the observer's, once one is compiled)
        self.flushing = False
        self.failed = False
        self.clock = ["", 0.0, 0.0]  # text, from, until (wall-clock seconds)
        self.timed_clock = ["", None]  # text, second: the observer's, kept by a timer
        self.clock_timer = None
        self.format = fmt
        source, constants = compile_format(fmt)
        self.clock_text = constants.get("clock_text", ("", ""))  # around the time in its text
        self.numbers = logformat.numbers()  # shared by the line and the observer
        self.line = self._compile(source, constants, "line")
        # the line of a request the server answered itself: reply_line(reply, reply, duration)
        self.reply_line = self._compile(*compile_format(fmt, replies=True), "line")

    def _compile(self, source, constants, name, names=None):
        held = self.held
        scope = {"append": self._hold_line if name == "line" else held.append, "lines": held,
                 "hold": held.append, "held": held, "replied": self.replied,
                 "made": self.lines,
                 "numbers": self.numbers, "limit": FLUSH_LINES if self.flush_interval > 0 else 0,
                 "flush": self.flush, "clock": self.clock, "wall": time.time, "tick": self._tick,
                 "pid": os.getpid(), "trunc": math.trunc, **(names or {})}
        scope = logformat.define(source, constants, scope, f"<access_log_format {self.format!r}>")
        if "render" in scope:  # (an observer holding tuples: see compile_held)
            self.render = scope["render"]
        return scope[name]

    def observer(self, loop, metrics=None, count=None):
        """The server's ``response_observer`` with this log on: ``observe(req, res)``
        takes the duration once, counts the response in ``metrics`` (a WorkerMetrics,
        optional), writes the line and calls ``count`` (optional), all in one function.
        Its time field is kept by a timer on ``loop`` at each second of the wall clock
        (as nginx's cached time: a line written before the loop runs that timer has the
        second before), until ``close()``."""
        names = {"count": count, "clock": self.timed_clock}
        record = record_micros = tally = tally_batch = ""
        if metrics is not None:
            record, record_micros, tally = metrics.RECORD, metrics.RECORD_MICROS, metrics.TALLY
            tally_batch = metrics.TALLY_BATCH
            names.update(metrics.record_names())
        if self.clock_timer is None and any(name == "t" for _, name, _, _ in parse_format(self.format)):
            self._keep_time(loop)
        compiled = compile_held(self.format, tally, count is not None, tally_batch)
        if compiled is None:
            compiled = compile_observer(self.format, record, record_micros, count is not None)
        elif metrics is not None:
            metrics.settle = self.settle  # the counts are read: the held responses are counted first
        return self._compile(*compiled, "observe", names)

    def settle(self):
        """Make the lines of what is held now, counting it: written at the next flush,
        or now when they make ``FLUSH_LINES`` (the observer counts only what is held)."""
        if self.flushing or not self.held:
            return
        self.flushing = True
        try:
            self._make_lines()
        finally:
            self.flushing = False
        if len(self.lines) >= FLUSH_LINES:
            self.flush()

    def _make_lines(self):
        """``render``: a failure is logged, and what was made is still written."""
        try:
            self.render()
        except Exception:
            log.exception("access log %s: lines lost while making them", self.path)

    def _hold_line(self, text):
        """A line made at once (a reply's): held in its turn, and counted."""
        self.held.append(text)
        self.replied[0] += 1

    def _render_lines(self):
        """``render`` while no observer holds tuples: every held entry is a line."""
        self.lines.extend(self.held)
        self.held.clear()

    def _keep_time(self, loop):
        now = time.time()
        second = int(now)
        if self.timed_clock[1] != second:
            self.settle()  # the held responses' lines, with the time they ended in
            prefix, suffix = self.clock_text
            self.timed_clock[:] = [prefix + time.strftime(TIME_FORMAT, time.localtime(second)) + suffix, second]
        # early by the clocks' drift: the same second again, then the next
        self.clock_timer = loop.call_later(second + 1 - now + 0.0005, self._keep_time, loop)

    def _is_pipe(self):
        """True for a pipe or socket: writes up to PIPE_BUF bytes do not mix with others'."""
        try:
            mode = os.fstat(self.fd).st_mode
        except OSError:
            return False
        return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)

    def _tick(self, now):
        second = float(int(now))  # floats: the per-line comparison stays float to float
        prefix, suffix = self.clock_text
        self.clock[:] = [prefix + time.strftime(TIME_FORMAT, time.localtime(second)) + suffix,
                         second, second + 1.0]

    def flush(self):
        """Make the held lines and write them: whole lines, one ``os.write`` per chunk."""
        if self.flushing or not (self.held or self.lines):
            return
        self.flushing = True
        try:
            self._make_lines()
            data = "".join(self.lines).encode("utf-8", "backslashreplace")
            self.lines.clear()
            if self.pipe and len(data) > select.PIPE_BUF:
                for chunk in line_chunks(data, select.PIPE_BUF):
                    self._write(chunk)
            else:
                self._write(data)
        finally:
            self.flushing = False

    def _write(self, data):
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except InterruptedError:
                continue
            except OSError as exc:
                if not self.failed:
                    self.failed = True
                    log.error("access log %s: cannot write (%s); %d bytes of lines dropped", self.path,
                              exc.strerror or errno.errorcode.get(exc.errno, exc.errno), len(view))
                return
            view = view[written:]
        self.failed = False

    def reopen(self):
        """USR1: flush to the old file, then write to a new one at the same path (a
        descriptor of the process's own, ``/dev/stdout``, is kept); False when it could
        not be (logged)."""
        self.flush()
        if self.path == "-" or own_descriptor(self.path) is not None:
            return True
        try:
            fd = _open(self.path)
        except OSError as exc:
            log.error("access log %s: cannot reopen (%s); still writing to the old file", self.path, exc.strerror)
            return False
        os.close(self.fd)
        self.fd = fd
        self.pipe = self._is_pipe()
        return True

    def adopt(self, fd):
        """Flush to the old file, then write to ``fd`` (opened by the master on USR1)."""
        self.flush()
        if self.path != "-":
            os.close(self.fd)
        self.fd = fd
        self.pipe = self._is_pipe()

    def close(self):
        if self.clock_timer is not None:
            self.clock_timer.cancel()
            self.clock_timer = None
        self.flush()
        if self.path != "-":
            os.close(self.fd)
            self.fd = -1
