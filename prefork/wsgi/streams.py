"""The byte streams of a WSGI call: ``wsgi.input``, ``wsgi.errors``, ``wsgi.file_wrapper``
(a response's way to its client is sending.py; ``wsgi.input`` on a thread is
``wsgi/pipe.py``'s ``BodyPipe``).

Rules:
- ``InputStream`` is a body read whole before the call (``threads = 1``). ``read(n)``
  with an ``n`` past the body's length reads the rest: a temporary file's ``read(n)``
  would first make room for ``n`` bytes (``read(2**40)`` a ``MemoryError``).
  ``EmptyInput`` (a request without a body) answers what ``io`` asks of a readable raw
  stream as ``InputStream`` does: wrapping ``wsgi.input`` never depends on the body.
- ``Errors`` (``wsgi.errors``) logs a line per record, as the app wrote it: the pieces
  of one ``print`` are one line; a line without its newline goes out with ``flush()``,
  when the call that wrote it ends, or when the thread that wrote it ends (in the
  process it was written in: a process the app forks does not log its parent's).
  It answers what ``io`` asks of a writable text stream (``writable``, ``isatty``,
  ``closed``, ``fileno``, ``encoding``, a ``with``), so a library handed it as its
  stream (a log handler, a console that asks ``isatty()``) works as with gunicorn's;
  it is the worker's one stream, shared by every call, so ``close()`` changes nothing.
- ``FileWrapper`` is its own iterator and seeks as its file does (``seekable``, ``seek``,
  ``tell``): Werkzeug's range responses (Flask's ``send_file`` with a ``Range``) seek to
  the range's start rather than read every byte before it.
"""

import os
import io
import logging
import threading
import weakref

log = logging.getLogger("prefork.wsgi")


class FileWrapper:
    """``wsgi.file_wrapper``: iterates blocks; sent with sendfile when possible."""

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        block = self.filelike.read(self.blksize)
        if not block:
            raise StopIteration
        return block

    def seekable(self):
        seekable = getattr(self.filelike, "seekable", None)
        return bool(seekable()) if seekable is not None else False

    def seek(self, offset, whence=0):
        return self.filelike.seek(offset, whence)

    def tell(self):
        return self.filelike.tell()


class InputStream(io.RawIOBase):
    """``wsgi.input``: the body, read whole (memory or a temporary file) before the app runs."""

    def __init__(self, body=None, length=None):
        self._body = body if body is not None else io.BytesIO()
        self.length = length

    @classmethod
    def empty(cls):
        return EMPTY_INPUT

    def readable(self):
        return True

    def read(self, size=-1):
        length = self.length
        if size is None or length is not None and size >= length:
            size = -1  # the rest, at most ``length``: a file's read(n) makes room for n bytes first
        return self._body.read(size)

    def readline(self, size=-1):
        return self._body.readline(size)

    def readlines(self, hint=-1):
        return self._body.readlines(hint)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def __iter__(self):
        return iter(self._body)

    def discard(self):
        """The call is done (nothing to do: the body was read before it)."""

    def abort(self):
        """The client went away (nothing to do: the body was read before the call)."""


class EmptyInput:
    """``wsgi.input`` of a request without a body: reads nothing; stateless, so shared.
    It answers what ``io`` asks of a readable raw stream as ``InputStream`` does, so an
    app that wraps ``wsgi.input`` (``io.TextIOWrapper`` for ``csv.reader``,
    ``io.BufferedReader``, a ``with``) works for an empty body as for one with bytes;
    ``close()`` changes nothing (reading an empty body gives nothing either way)."""

    __slots__ = ()
    length = 0
    closed = False

    def readable(self):
        return True

    def writable(self):
        return False

    def seekable(self):
        return False

    def isatty(self):
        return False

    def flush(self):
        pass

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def seek(self, offset, whence=0):
        raise io.UnsupportedOperation("seek")

    def tell(self):
        raise io.UnsupportedOperation("tell")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def __next__(self):
        raise StopIteration

    def read(self, size=-1):
        return b""

    def readall(self):
        return b""

    def readline(self, size=-1):
        return b""

    def readlines(self, hint=-1):
        return []

    def readinto(self, buffer):
        return 0

    def __iter__(self):
        return iter(())

    def close(self):
        pass

    def discard(self):
        pass

    def abort(self):
        pass


EMPTY_INPUT = EmptyInput()


class Errors:
    """``wsgi.errors``: a text stream whose lines go to the error log, one record per
    write that ends a line: ``print(a, b, file=errors)`` (four writes) is one record, as
    it is one line. The start of a line is held per thread until its newline, ``flush()``,
    the end of the call (the adapter flushes the calling thread's) or the end of the
    thread (one the app started, whose last line had no newline)."""

    closed = False
    encoding = "utf-8"
    errors = "strict"
    newlines = None

    def __init__(self):
        self._local = threading.local()
        self._lock = threading.Lock()  # for held, which threads change
        self.held = 0  # threads holding the start of a line: the call's end flushes when not 0

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def close(self):
        """Nothing: the stream is the worker's, shared by every call (a call that
        closes it must not silence the next one)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def _line(self):
        try:
            return self._local.line
        except AttributeError:
            line = self._local.line = _HeldLine(self)
            return line

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        line = self._line()
        pending = line.text
        lines, newline, rest = (pending + text).rpartition("\n")
        if newline:
            _log_lines(lines)
        if len(rest) > _ERRORS_LINE_MAX:  # no newline coming: a record of its own all the same
            _log_lines(rest)
            rest = ""
        if bool(rest) != bool(pending):
            with self._lock:
                self.held += 1 if rest else -1
        line.text = rest
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        """The calling thread's line so far goes to the log."""
        line = getattr(self._local, "line", None)
        if line is not None and line.text:
            self.let_go(line.text)
            line.text = ""

    def let_go(self, pending):
        with self._lock:
            self.held -= 1
        _log_lines(pending)


class _HeldLine:
    """The start of a line one thread holds; a thread that ends holding one (the app's
    own, which no call's end flushes) has it logged as it goes."""

    __slots__ = ("text", "errors", "pid")

    def __init__(self, errors):
        self.text = ""
        self.errors = weakref.ref(errors)  # (no cycle through the thread-local)
        self.pid = os.getpid()

    def __del__(self):
        errors = self.errors()
        # (a process the app forked drops the other threads' locals: their lines are the
        # parent's to log, and its lock may have been held at the fork)
        if self.text and errors is not None and self.pid == os.getpid():
            try:
                errors.let_go(self.text)
            except Exception:  # (at the interpreter's end, logging may be gone)
                pass


_ERRORS_LINE_MAX = 64 * 1024  # characters of a line held before it is logged without its end


def _log_lines(text):
    text = text.rstrip("\n")
    if text.strip():
        if log.isEnabledFor(logging.ERROR):
            log.error("%s", text)
        else:  # (what the app writes to wsgi.errors is logged whatever log_level says, as gunicorn writes it)
            log.handle(log.makeRecord(log.name, logging.ERROR, __file__, _log_lines.__code__.co_firstlineno,
                                      "%s", (text,), None, func="_log_lines"))
