"""Error log on stdlib logging; access log through a per-worker buffer. Both reopen on USR1.

Rules:
- The error log takes over fd 2 when it is a file, so that tracebacks and the stack dump
  of an aborted worker (faulthandler) land in it.
- The access log makes no stdlib ``logging`` call per request. The user's
  ``access_log_format`` is compiled once into a function that computes only the fields
  the format uses and builds the line with one f-string (or, for fields with a format
  spec or conversion, one ``str.format`` call). The code of that function is put
  together from a fixed table of field expressions; the format's literal text stands
  in the source as placeholders that become code constants after compiling, so no
  text from the format reaches the code. A worker compiles the same line into its
  response observer (``AccessLog.observer``): one call per response takes the
  duration, counts the metrics (fixed code from metrics.py) and writes the line. The
  server calls it once the response's last byte is in the kernel, so the duration
  needs no clock read: it runs from the read that completed the head
  (``req.start_time``) to that last write (``req.socket.last_activity``).
- The time field is formatted at most once per second of wall-clock time. The
  observer does not look at the clock for it: a timer on the worker's loop renews the
  text at each second (nginx's cached time), so a line has the second in which its
  loop iteration began.
- Lines wait in the worker's buffer; a flush writes whole lines to an O_APPEND fd with
  one ``os.write`` each (at most PIPE_BUF bytes per write when the fd is a pipe or a
  socket, e.g. stderr under systemd), so
  lines from two workers never interleave inside a line. The buffer is flushed when it
  holds ``FLUSH_LINES`` lines, by the owner's timer every ``access_log_flush``
  seconds, before the worker exits, on USR1 (flush, then reopen) and from the SIGABRT
  handler of a hung worker. A worker killed with SIGKILL loses at most the lines of one
  flush interval. ``access_log_flush = 0`` writes every line at once.
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
import string
import sys
import time

ERROR_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
FLUSH_LINES = 512  # lines held before a flush: about 64 KiB of 128-byte lines
NUMBERS = 4096  # the decimal text of 0 .. NUMBERS - 1 is looked up, not formatted

log = logging.getLogger("prefork")


class _ReopenableFile(logging.StreamHandler):
    def __init__(self, path, take_fd2=False):
        self.path = path
        self.take_fd2 = take_fd2
        super().__init__(self._open())

    def _open(self):
        stream = open(self.path, "a", buffering=1, encoding="utf-8")
        if self.take_fd2:
            os.dup2(stream.fileno(), 2)
        return stream

    def reopen(self):
        """USR1: write to a new file at the same path; one that cannot be opened is
        reported, and the old file kept."""
        try:
            stream = self._open()
        except OSError as exc:
            log.error("error log %s: cannot reopen (%s); still writing to the old file", self.path,
                      (exc.strerror or str(exc)).lower())
            return
        self._swap(stream)

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


def setup(settings):
    """Configure the ``prefork`` logger (errors); check that the access log can be opened.
    A file that cannot be opened raises OSError and leaves the logging as it was."""
    root = logging.getLogger("prefork")
    if settings.access_log and settings.access_log != "-":
        os.close(_open_append(settings.access_log))  # created now; a bad path fails at start
    if settings.error_log and settings.error_log != "-":
        handler = _ReopenableFile(settings.error_log, take_fd2=True)
    else:
        handler = logging.StreamHandler(sys.stderr)
    for old in list(root.handlers):
        root.removeHandler(old)
    handler.setFormatter(logging.Formatter(ERROR_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    root.propagate = False


def flush_output():  # what stdout and stderr hold: a child ends by os._exit, which writes nothing
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


def reopen():
    """Reopen the error log file (USR1)."""
    for handler in logging.getLogger("prefork").handlers:
        if isinstance(handler, _ReopenableFile):
            handler.reopen()


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
    if handler is not None:
        files["error"] = os.dup(handler.stream.fileno())
    if settings.access_log and settings.access_log != "-":
        try:
            files["access"] = _open_append(settings.access_log)
        except OSError as exc:
            log.error("access log %s: cannot reopen (%s); the workers keep the old file", settings.access_log,
                      (exc.strerror or str(exc)).lower())
    return files


def adopt(name, fd, access=None):
    """In a worker: write the ``name`` log (error, access) to ``fd`` from the master."""
    handler = error_log_file() if name == "error" else None
    if handler is not None:
        handler.adopt(fd)
    elif name == "access" and access is not None:
        access.adopt(fd)
    else:
        os.close(fd)


def _open_append(path):
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)


# -- compiling the access log format -------------------------------------------------------
# Each field: the expression for str.format (any type), and the f-string piece for the
# plain "{x}" case. Both come from this table only.
_FIELDS = {
    "h": ('req.socket.remote_address or "-"', '{req.socket.remote_address or "-"}'),
    "t": ("clock[0]", "{clock[0]}"),
    "r": ('f"{req.method} {req.url} HTTP/{req.http_version}"', "{req.method} {req.url} HTTP/{req.http_version}"),
    "m": ("req.method", "{req.method}"),
    "U": ("req.url", "{req.url}"),
    "s": ("res.status_code", "{res.status_code}"),
    "b": ('res.bytes_sent or res.get_header("content-length") or "-"',
          '{res.bytes_sent or res.get_header("content-length") or "-"}'),
    "f": ('req.headers.get("referer", "-")', '{req.headers.get("referer", "-")}'),
    "a": ('req.headers.get("user-agent", "-")', '{req.headers.get("user-agent", "-")}'),
    "D": ("int(duration * 1e6)", "{int(duration * 1e6)}"),
    "L": ('"%.6f" % duration', "{duration:.6f}"),
    "p": ("pid", "{pid}"),
}
FIELDS = frozenset(_FIELDS)
# Cheaper f-string pieces for the plain case: an int's text is looked up in ``numbers``
# (a dict of 1 .. NUMBERS - 1 to its decimal text) instead of formatted. A status code
# that is not a key raises KeyError (or TypeError) and the line is built again by the
# pieces above; a size or duration that is not a key is formatted as before.
_FAST = {
    "s": "{numbers[res.status_code]}",
    "b": '{numbers.get(res.bytes_sent) or res.bytes_sent or res.get_header("content-length") or "-"}',
    "D": "{numbers.get(micros) or micros}",
}


def parse_format(fmt):
    """[(literal, field or None, spec, conversion)]; raises ValueError for a bad format."""
    try:
        parts = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ValueError(f"not a valid format: {exc}") from None
    unknown = sorted({name for _, name, _, _ in parts if name is not None} - FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join('{' + f + '}' for f in unknown)}")
    return parts


# A literal piece of the format is written in the f-string as this text (escaped, so the
# source holds only these characters); the compiled code's constant of that text is then
# replaced by the piece itself.
_PLACEHOLDER = "\\u2063%d\\u2063"


def _compile_body(fmt):
    """(fields used, the ``micros`` line or "", the code that builds and holds the line,
    its constants)."""
    parts = parse_format(fmt)
    plain = all(spec == "" and conversion is None for _, name, spec, conversion in parts if name is not None)
    used = {name for _, name, _, _ in parts if name is not None}
    constants = {}
    if plain:
        # one f-string: literal pieces are placeholders for the text, fields are table code
        pieces, fast = [], []
        pending = ""  # literal text waiting for the next field (adjacent literals are one)
        # a single time field takes the literal text around it into the clock's text
        merge_clock = sum(name == "t" for _, name, _, _ in parts) == 1
        prefix = suffix = None
        for literal, name, _, _ in parts + [("\n", None, None, None)]:
            pending += literal
            if name is None:
                continue
            if merge_clock and name == "t":
                prefix, pending = pending, ""
            elif prefix is not None and suffix is None:
                suffix, pending = pending, ""
            if pending:
                key = _PLACEHOLDER % len(constants)
                constants[key] = pending
                pieces.append(key)
                fast.append(key)
                pending = ""
            pieces.append(_FIELDS[name][1])
            fast.append(_FAST.get(name, _FIELDS[name][1]))
        if prefix is not None and suffix is None:
            suffix, pending = pending, ""
        if pending:
            key = _PLACEHOLDER % len(constants)
            constants[key] = pending
            pieces.append(key)
            fast.append(key)
        if prefix is not None:
            constants["clock_text"] = (prefix, suffix)
        build = "    text = f'" + "".join(pieces) + "'\n"
        if "s" in used:
            build = ("    try:\n        text = f'" + "".join(fast) + "'\n"
                     "    except (KeyError, TypeError):\n    " + build)
        else:
            build = "    text = f'" + "".join(fast) + "'\n"
    else:
        constants["template"] = fmt + "\n"
        keywords = ", ".join(f"{name}={_FIELDS[name][0]}" for name in sorted(used))
        build = f"    text = template.format({keywords})\n"
    # math.trunc: the same int as int() for a float, for half the instructions
    micros = "    micros = trunc(duration * 1e6)\n" if plain and "D" in used else ""
    return used, micros, build + "    append(text)\n    if len(lines) >= limit:\n        flush()\n", constants


_TICK = "    if not clock[1] <= now < clock[2]:\n        tick(now)\n"


def compile_format(fmt):
    """Python source of ``line(req, res, duration)`` and the constants it uses (the
    format's literal text travels in those constants, never in the source: a constant
    keyed by a ``_PLACEHOLDER`` text stands for that text in the compiled code, any
    other is a name). ``clock`` holds wall-clock seconds here."""
    used, micros, build, constants = _compile_body(fmt)
    clock = "    now = wall()\n" + _TICK if "t" in used else ""
    return "def line(req, res, duration):\n" + clock + micros + build, constants


def compile_observer(fmt, record="", record_micros="", count=False):
    """Python source of ``observe(req, res)``: the duration taken once (in seconds and
    in whole µs), then the response counted by ``record`` (fixed code, e.g.
    metrics.WorkerMetrics.RECORD; ``record_micros`` when the line computes ``micros``), the
    line of ``fmt``, and ``count()`` when asked for, all in one function (one call per
    response). ``clock`` is kept by a timer here."""
    used, micros, build, constants = _compile_body(fmt)
    return ("def observe(req, res):\n    duration = req.socket.last_activity - req.start_time\n" + micros
            + (record_micros if micros and record_micros else record)
            + build + ("    count()\n" if count else "")), constants


class AccessLog:
    """One worker's access log: ``line(req, res, duration)`` is the per-response call."""

    def __init__(self, path, fmt, flush_interval):
        self.path = path  # "-" is fd 2
        self.fd = 2 if path == "-" else _open_append(path)
        self.pipe = self._is_pipe()
        self.flush_interval = flush_interval
        self.lines = []
        self.flushing = False
        self.failed = False
        self.clock = ["", 0.0, 0.0]  # text, from, until (wall-clock seconds)
        self.timed_clock = ["", None]  # text, second: the observer's, kept by a timer
        self.clock_timer = None
        self.format = fmt
        source, constants = compile_format(fmt)
        self.clock_text = constants.get("clock_text", ("", ""))  # around the time in its text
        self.numbers = _numbers()  # shared by the line and the observer
        self.line = self._compile(source, constants, "line")

    def _compile(self, source, constants, name, names=None):
        scope = {"append": self.lines.append, "lines": self.lines,
                 "numbers": self.numbers, "limit": FLUSH_LINES if self.flush_interval > 0 else 0,
                 "flush": self.flush, "clock": self.clock, "wall": time.time, "tick": self._tick,
                 "pid": os.getpid(), "trunc": math.trunc, **(names or {})}
        literals = {}
        for key, value in constants.items():
            if key.startswith("\\u2063"):
                literals[key.encode().decode("unicode_escape")] = value
            else:
                scope[key] = value
        code = _with_literals(compile(source, f"<access_log_format {self.format!r}>", "exec"), literals)
        exec(code, scope)
        return scope[name]

    def observer(self, loop, metrics=None, count=None):
        """The server's ``response_observer`` with this log on: ``observe(req, res)``
        takes the duration once, counts the response in ``metrics`` (a WorkerMetrics,
        optional), writes the line and calls ``count`` (optional), all in one function.
        Its time field is kept by a timer on ``loop`` at each second of the wall clock
        (as nginx's cached time: a line written before the loop runs that timer has the
        second before), until ``close()``."""
        names = {"count": count, "clock": self.timed_clock}
        record = record_micros = ""
        if metrics is not None:
            record, record_micros = metrics.RECORD, metrics.RECORD_MICROS
            names.update(metrics.record_names())
        if self.clock_timer is None and any(name == "t" for _, name, _, _ in parse_format(self.format)):
            self._keep_time(loop)
        source, constants = compile_observer(self.format, record, record_micros, count is not None)
        return self._compile(source, constants, "observe", names)

    def _keep_time(self, loop):
        now = time.time()
        second = int(now)
        if self.timed_clock[1] != second:
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
        """Write every held line: whole lines, one ``os.write`` per chunk."""
        if self.flushing or not self.lines:
            return
        self.flushing = True
        try:
            data = "".join(self.lines).encode("utf-8", "backslashreplace")
            self.lines.clear()
            if self.pipe and len(data) > select.PIPE_BUF:
                for chunk in _line_chunks(data, select.PIPE_BUF):
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
        """USR1: flush to the old file, then write to a new one at the same path."""
        self.flush()
        if self.path == "-":
            return
        try:
            fd = _open_append(self.path)
        except OSError as exc:
            log.error("access log %s: cannot reopen (%s); still writing to the old file", self.path, exc.strerror)
            return
        os.close(self.fd)
        self.fd = fd
        self.pipe = self._is_pipe()

    def adopt(self, fd):
        """Flush to the old file, then write to ``fd`` (opened by the master on USR1)."""
        self.flush()
        if self.fd != 2:
            os.close(self.fd)
        self.fd = fd
        self.pipe = self._is_pipe()

    def close(self):
        if self.clock_timer is not None:
            self.clock_timer.cancel()
            self.clock_timer = None
        self.flush()
        if self.fd != 2:
            os.close(self.fd)
            self.fd = -1


def _with_literals(code, literals):
    """``code`` (and the code in it) with each placeholder constant replaced by its text."""
    consts = tuple(_with_literals(c, literals) if hasattr(c, "co_consts") else
                   literals.get(c, c) if isinstance(c, str) else c for c in code.co_consts)
    return code.replace(co_consts=consts)


def _numbers():
    return {number: str(number) for number in range(1, NUMBERS)}


def _line_chunks(data, size):
    """Pieces of ``data`` of at most ``size`` bytes that end at line ends (a longer line alone)."""
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
                yield data[start:]
                return
        yield data[start:cut + 1]
        start = cut + 1
