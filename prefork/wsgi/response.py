"""A WSGI call on the loop (``threads = 1``), and the head rules both kinds of call share.

Rules:
- ``start_response`` only records the status and headers; the head goes onto the
  ``ServerResponse`` when the first body bytes (or the end) go out. With ``exc_info`` it
  replaces them while nothing is out, and re-raises once the head is out.
- Hop-by-hop headers from the app are dropped, except ``Connection``; a repeated header
  name keeps every value (``Set-Cookie``).
- A list or tuple body is joined and sent with ``end(data)``: one send, Content-Length
  (HEAD gets the same Content-Length as GET would). Its header list, checked and
  encoded once, is kept as a ``HeaderBlock`` (``_BLOCKS_KEPT`` lists at most) and goes
  out with ``end_with`` when it has no Connection or Date and its Content-Length, if
  any, is the body's: the same bytes as field by field.
- Any other iterable is streamed with backpressure: iteration pauses while the socket's
  buffer is over its high-water mark and resumes on ``drain``. ``close()`` is called on
  the iterable in every case. A ``wsgi.file_wrapper`` around a real file goes out with
  ``os.sendfile`` when its length is known.
- An exception in the app gives a 500 if nothing was sent (otherwise the connection is
  closed) and is logged with its traceback; the worker goes on serving.
"""

import io
import logging
import os

from ..http import serialize
from .streams import FileWrapper, SendFile

log = logging.getLogger("prefork.wsgi")

_DROPPED = frozenset(("keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                      "transfer-encoding", "upgrade"))  # hop-by-hop, except Connection
_BLOCKS_KEPT = 256  # distinct header lists kept as blocks (all forgotten when full)


def apply_head(res, status, headers, status_cache, length=None):
    """Put the app's status and headers on ``res``; returns the lower-cased names set.
    A Content-Length equal to ``length`` (the whole body's, when known) is left to the
    response, which writes the same line itself."""
    res.status_code, res.status_message = parse_status(status, status_cache)
    names = set()
    set_header = res.set_header
    for name, value in headers:
        key = name.lower()
        if key in _DROPPED:
            continue
        if key in names:
            current = res.get_header(name)  # None: a Content-Length left to the response
            if current is not None:
                value = (current if isinstance(current, list) else [current]) + [value]
            set_header(name, value)
            continue
        names.add(key)
        if key == "content-length" and length is not None and value == str(length):
            continue
        set_header(name, value)
    return names


def parse_status(status, status_cache):
    """(code, reason or None) for a WSGI status line, kept in ``status_cache``."""
    parsed = status_cache.get(status)
    if parsed is None:
        code, _, reason = status.partition(" ")
        if len(code) != 3 or not code.isdigit():
            raise ValueError(f"invalid WSGI status {status!r}")
        parsed = (int(code), reason or None)
        if len(status_cache) < 256:
            status_cache[status] = parsed
    return parsed


def whole_block(headers, blocks):
    """``(block, content_length)`` for a whole body's head: the fields ``apply_head``
    would set, as a ``HeaderBlock`` without the Content-Length (whose value, or None,
    comes apart); ``(None, None)`` when the list needs the field-by-field path (a
    Connection or Date, a repeated Content-Length). Kept in ``blocks`` by the list."""
    try:
        key = tuple(headers)
        entry = blocks.get(key)
    except TypeError:  # a name or value that is not hashable: not kept
        key = entry = None
    if entry is None:
        fields = {}
        for name, value in headers:
            key_name = name.lower()
            if key_name in _DROPPED:
                continue
            serialize.check_name(name)
            serialize.check_value(name, value)  # in apply_head's order: the same first error
            seen = fields.get(key_name)
            if seen is not None:
                current = seen[1]
                value = (current if isinstance(current, list) else [current]) + [value]
            fields[key_name] = (name, list(value) if isinstance(value, tuple) else value)
        length = fields.pop("content-length", (None, None))[1]
        block = serialize.HeaderBlock(fields)
        entry = (block, length) if block.plain and not isinstance(length, list) else (None, None)
        if key is not None:
            if len(blocks) >= _BLOCKS_KEPT:
                blocks.clear()
            blocks[key] = entry
    return entry


def end_whole(res, names, data, method):
    """End ``res`` with the whole body ``data`` (one send)."""
    if method == "HEAD" and "content-length" not in names and res.has_body_status():
        res.set_header("Content-Length", str(len(data)))  # as GET would have it
    res.end(data)


class LoopCall:
    """One WSGI call on the loop: start_response, then the iterable with backpressure."""

    __slots__ = ("adapter", "req", "res", "body", "status", "headers", "iterable", "iterator", "finished")

    def __init__(self, adapter, req, res, body):
        self.adapter = adapter
        self.req = req
        self.res = res
        self.body = body
        self.status = None
        self.headers = None
        self.iterable = None
        self.iterator = None
        self.finished = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.res.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        self.status = status
        self.headers = headers
        return self.write

    def _send_head(self):
        if self.res.headers_sent:
            return None
        if self.status is None:
            raise AssertionError("the app returned before calling start_response")
        return apply_head(self.res, self.status, self.headers, self.adapter.statuses)

    def write(self, data):
        """The legacy write() callable: buffered on the response."""
        self._send_head()
        self.res.write(data)

    def start(self):
        """Call the app; True when the call is done at once (a list body), else its end
        is reported with ``adapter.call_done()``."""
        adapter = self.adapter
        try:
            environ = adapter.environs.environ(self.req, self.body)
            iterable = self.iterable = adapter.app(environ, self.start_response)
            kind = iterable.__class__
            res = self.res
            if (kind is list or kind is tuple) and not res.headers_sent:
                # all in memory already: one send, with Content-Length
                data = iterable[0] if len(iterable) == 1 else b"".join(iterable)
                if self.status is None:
                    raise AssertionError("the app returned before calling start_response")
                method = self.req.method
                if method != "HEAD":
                    code, reason = parse_status(self.status, adapter.statuses)  # first, as apply_head
                    block, length = whole_block(self.headers, adapter.blocks)
                    if block is not None and (length is None or length == str(len(data))):
                        res.end_with(code, block, data, reason)
                        self.finished = True
                        return True
                names = apply_head(res, self.status, self.headers, adapter.statuses,
                                   None if method == "HEAD" else len(data))
                if method == "HEAD":
                    end_whole(res, names, data, method)
                else:
                    res.end(data)
                self.finished = True
                return True  # done: the caller goes on
            if kind is FileWrapper and self._try_sendfile():
                return False
            self.iterator = iter(iterable)
        except Exception:
            self._failed()
            return False
        self.pump()
        return False

    def pump(self):
        """Send blocks until the socket pushes back; resume on 'drain'."""
        res = self.res
        try:
            for block in self.iterator:
                if not block:
                    continue
                self._send_head()
                if res.socket.destroyed:
                    break
                if not res.write(block):
                    res.once("drain", self.pump)
                    return
            self._send_head()
            res.end()
        except Exception:
            self._failed()
            return
        self.finish()

    def _try_sendfile(self):
        wrapper = self.iterable
        res = self.res
        try:
            fd = wrapper.filelike.fileno()
            size = os.fstat(fd).st_size - wrapper.filelike.tell()
        except (AttributeError, OSError, io.UnsupportedOperation):
            return False
        self._send_head()
        if not res.has_header("content-length"):
            res.set_header("Content-Length", str(size))
        length = int(res.get_header("content-length"))
        offset = wrapper.filelike.tell()
        if self.req.method == "HEAD" or not res.active or length == 0:
            res.end()
            self.finish()
            return True
        res.flush_headers()
        SendFile(self, fd, offset, min(length, size)).start()
        return True

    def _failed(self):
        log.exception("error in WSGI app for %s %s", self.req.method, self.req.url)
        answer_failure(self.res)
        self.finish()

    def finish(self):
        if self.finished:
            return
        self.finished = True
        iterable = self.iterable
        if iterable.__class__ is not list:
            close_iterable(iterable)
        self.adapter.call_done()


def answer_failure(res, status=500):
    """The app failed: a canned answer if the head is not out, else close the connection."""
    if res.headers_sent or res.writable_ended:
        res.socket.destroy()
        return
    res.reset_head()
    if status == 413:
        res.write_head(413, {"Content-Type": "text/plain", "Connection": "close", "Content-Length": "24"})
        res.end(b"Request body too large.\n")
        return
    res.write_head(500, {"Content-Type": "text/plain", "Content-Length": "22"})
    res.end(b"Internal Server Error\n")


def close_iterable(iterable):
    close = getattr(iterable, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.exception("error closing the WSGI response iterable")
