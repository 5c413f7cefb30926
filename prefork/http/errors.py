"""Protocol errors with Node's codes and the status a server answers with.

httptools reports llhttp's reason text but not its error number or position. On the
error path (never the hot path) the bytes of the failing message are replayed through
llhttp itself, through the C API that the httptools extension exports, which yields
the exact ``HPE_*`` name and the offset where parsing stopped (Node's ``bytesParsed``).
That API is checked once at import by a self-test (``LLHTTPReplay``); if it is missing
or fails the test, the code is derived from the reason text and offsets are best effort.
"""

import ctypes
import os

# Canned replies carry the status of the error (431/413/408), anything else is 400.
_STATUS_HINT = {
    "HPE_HEADER_OVERFLOW": 431,
    "HPE_CHUNK_EXTENSIONS_OVERFLOW": 413,
    "ERR_HTTP_REQUEST_TIMEOUT": 408,
}


class HTTPError(Exception):
    """An error with Node's ``code`` and ``message``; unset Node fields are None."""

    # (status, (method, target, version) or None) of an answer the layer that found the
    # error sent itself (a TLS port's 400 to plain HTTP), for the access log; else None
    reply = None

    def __init__(self, code, message, reason=None, bytes_parsed=None, raw_packet=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.bytes_parsed = bytes_parsed
        self.raw_packet = raw_packet

    @property
    def status_hint(self):
        """The status a server's canned reply uses for this error."""
        return _STATUS_HINT.get(self.code, 400)

    def __repr__(self):
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class Aborted(HTTPError, ConnectionResetError):
    """A body cut short by its connection's end: Node's ECONNRESET "aborted", and a
    ConnectionResetError for ``except`` clauses that expect one."""

    def __init__(self, message="aborted"):
        super().__init__("ECONNRESET", message)


class PrematureClose(HTTPError, ConnectionResetError):
    """A stream closed before what was written to it went out (its connection went):
    Node's ERR_STREAM_PREMATURE_CLOSE, and a ConnectionResetError for ``except`` clauses
    that expect one."""

    def __init__(self):
        super().__init__("ERR_STREAM_PREMATURE_CLOSE", "Premature close")


class ParseError(HTTPError):
    """llhttp rejected the bytes (or one of our limits did): whose fault: the peer's."""

    def __init__(self, code, reason, bytes_parsed=None, raw_packet=None):
        message = "Parse Error" if code == "HPE_INVALID_EOF_STATE" else "Parse Error: " + reason
        super().__init__(code, message, reason, bytes_parsed, raw_packet)


def request_timeout_error():
    return HTTPError("ERR_HTTP_REQUEST_TIMEOUT", "Request timeout")


def body_too_large(limit):
    """The error of a server request's ``body(limit)`` past its limit (a 413)."""
    err = HTTPError("ERR_BODY_TOO_LARGE", f"the request body is larger than {limit} bytes")
    err.status = 413
    return err


# -- mapping llhttp reasons to codes (fallback only) ---------------------------------
_REASON_CODES = (
    ("Data after `Connection: close`", "HPE_CLOSED_CONNECTION"),
    ("Duplicate Content-Length", "HPE_UNEXPECTED_CONTENT_LENGTH"),
    ("Content-Length", "HPE_INVALID_CONTENT_LENGTH"),
    ("Transfer-Encoding", "HPE_INVALID_TRANSFER_ENCODING"),
    ("chunk size", "HPE_INVALID_CHUNK_SIZE"),
    ("Expected LF after chunk data", "HPE_STRICT"),
    ("Missing expected CR", "HPE_CR_EXPECTED"),
    ("Missing expected LF", "HPE_LF_EXPECTED"),
    ("method", "HPE_INVALID_METHOD"),
    ("url", "HPE_INVALID_URL"),
    ("version", "HPE_INVALID_VERSION"),
    ("Expected HTTP/", "HPE_INVALID_CONSTANT"),
    ("header", "HPE_INVALID_HEADER_TOKEN"),
    ("status", "HPE_INVALID_STATUS"),
)


def code_from_reason(reason):
    lowered = reason.lower()
    for needle, code in _REASON_CODES:
        if needle.lower() in lowered:
            return code
    return "HPE_INTERNAL"


# -- replay through llhttp's C API ----------------------------------------------------
_HPE_PAUSED_UPGRADE = 22
# llhttp_settings_t slots of llhttp 9.3 (httptools 0.7.1 to 0.9.x); llhttp 8.x and 9.2 lack
# on_protocol (slot 1), so every later slot there is one lower. The self-test catches that.
LLHTTP_9_3_SLOTS = {
    "on_message_begin": 0, "on_url": 2, "on_status": 3, "on_header_field": 6, "on_header_value": 7,
    "on_chunk_extension_name": 8, "on_chunk_extension_value": 9, "on_headers_complete": 10,
    "on_chunk_header": 22,
}
_DATA_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_SETTINGS_SLOTS = 40  # more than llhttp 9.3 has; the tail stays zero
# what Node counts against max_header_size (on_status only comes in a response)
_HEADER_SPANS = ("on_url", "on_status", "on_header_field", "on_header_value")
_HEADER_RESETS = ("on_message_begin", "on_headers_complete")

# The self-test: known bytes, the spans and events llhttp must report for them.
_PROBE = (b"GET /ab HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"1;e=v\r\nx\r\n0\r\n\r\n")
_PROBE_EVENTS = [
    ("on_message_begin",), ("on_url", 4, 3), ("on_header_field", 18, 4), ("on_header_value", 24, 1),
    ("on_header_field", 27, 17), ("on_header_value", 46, 7), ("on_headers_complete",),
    ("on_chunk_extension_name", 59, 1), ("on_chunk_extension_value", 61, 1), ("on_chunk_header",),
    ("on_chunk_header",),
]
_PROBE_RESPONSE = (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
                   [("on_message_begin",), ("on_status", 13, 2), ("on_header_field", 17, 1),
                    ("on_header_value", 20, 1), ("on_headers_complete",)])
_PROBE_ERROR = (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
                ("HPE_INVALID_CONTENT_LENGTH", "Invalid character in Content-Length", 42))
_DATA_SLOTS = ("on_url", "on_status", "on_header_field", "on_header_value", "on_chunk_extension_name",
               "on_chunk_extension_value")


class ReplayUnavailable(Exception):
    """The llhttp C API is missing or does not behave as the self-test expects."""


class LLHTTPReplay:
    """llhttp's C API, as exported by the httptools extension module.

    ``slots`` maps callback names to their index in ``llhttp_settings_t`` (default:
    llhttp 9.3's). The constructor runs a self-test (known bytes in, known spans, codes
    and offsets out) and raises ``ReplayUnavailable`` if the library disagrees, so a
    different llhttp layout is never used blind.
    """

    def __init__(self, slots=None, library=None):
        self.slots = dict(LLHTTP_9_3_SLOTS if slots is None else slots)
        if library is None:
            import httptools.parser.parser as ext
            library = ext.__file__
        lib = ctypes.CDLL(library)
        lib.llhttp_settings_init.argtypes = [ctypes.c_void_p]
        lib.llhttp_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.llhttp_execute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        lib.llhttp_execute.restype = ctypes.c_int
        lib.llhttp_get_error_pos.argtypes = [ctypes.c_void_p]
        lib.llhttp_get_error_pos.restype = ctypes.c_void_p
        lib.llhttp_get_error_reason.argtypes = [ctypes.c_void_p]
        lib.llhttp_get_error_reason.restype = ctypes.c_char_p
        lib.llhttp_errno_name.argtypes = [ctypes.c_int]
        lib.llhttp_errno_name.restype = ctypes.c_char_p
        self.lib = lib
        self._self_test()

    def _self_test(self):
        events = []
        keep = []
        settings = self._settings()
        for name, slot in self.slots.items():
            if not 0 <= slot < _SETTINGS_SLOTS:
                raise ReplayUnavailable(f"slot {name} out of range")
            # every slot gets the data signature: a callback llhttp calls with fewer
            # arguments only sees junk integers, which are recorded, never dereferenced
            def record(_parser, at, length, name=name):
                events.append((name, at, length))
                return 0
            cb = _DATA_CB(record)
            keep.append(cb)
            settings[slot] = ctypes.cast(cb, ctypes.c_void_p)
        for probe, kind, expected in ((_PROBE, 1, _PROBE_EVENTS), (*_PROBE_RESPONSE[:1], 2, _PROBE_RESPONSE[1])):
            events.clear()
            _, err, _, base = self._run(probe, kind, settings, with_base=True)
            seen = [(name, at - base, length) if name in _DATA_SLOTS else (name,)
                    for name, at, length in events]
            if err or seen != expected:
                raise ReplayUnavailable("llhttp does not report the spans of a known message as expected")
        data, expected = _PROBE_ERROR
        if self.diagnose(data, 1) != expected:
            raise ReplayUnavailable("llhttp does not report a known error as expected")

    def _settings(self):
        settings = (ctypes.c_void_p * _SETTINGS_SLOTS)()
        self.lib.llhttp_settings_init(settings)
        return settings

    def _run(self, data, kind, settings, with_base=False):
        lib = self.lib
        parser = ctypes.create_string_buffer(512)
        lib.llhttp_init(parser, kind, settings)
        buf = ctypes.create_string_buffer(data, len(data))
        err = lib.llhttp_execute(parser, buf, len(data))
        pos = lib.llhttp_get_error_pos(parser) if err else None
        base = ctypes.addressof(buf)
        return parser, err, (pos - base if pos else None), base

    def span_overflow(self, data, limit, spans, resets, kind=1):
        """Offset where the bytes of the ``spans`` callbacks pass ``limit`` (Node counts
        header and chunk-extension sizes this way), or None. ``resets`` are the
        callbacks that start a new count."""
        counted = [0]

        def on_span(_parser, _at, length):
            counted[0] += length
            return -1 if counted[0] >= limit else 0

        def on_reset(_parser):
            counted[0] = 0
            return 0

        settings = self._settings()
        span_cb = _DATA_CB(on_span)
        reset_cb = _CB(on_reset)
        for name in spans:
            settings[self.slots[name]] = ctypes.cast(span_cb, ctypes.c_void_p)
        for name in resets:
            settings[self.slots[name]] = ctypes.cast(reset_cb, ctypes.c_void_p)
        _, err, pos, _ = self._run(data, kind, settings)
        return pos if err and counted[0] >= limit else None

    def header_counter(self, limit, kind):
        """A ``HeaderCounter`` on this library."""
        return HeaderCounter(self.lib, self._settings(), self.slots, limit, kind)

    def diagnose(self, data, kind):
        """Run ``data`` through a fresh llhttp (1 = request, 2 = response).

        Returns ``(code, reason, offset)`` of the first error, or None.
        """
        parser, err, offset, _ = self._run(data, kind, self._settings())
        if err == 0 or err == _HPE_PAUSED_UPGRADE:
            return None
        reason = self.lib.llhttp_get_error_reason(parser)
        return (self.lib.llhttp_errno_name(err).decode(),
                reason.decode("latin-1") if reason else "", offset)


def load_replay(environ=None):
    """The checked llhttp API, or None: then codes come from llhttp's reason text and
    offsets are best effort. ``PREFORK_LLHTTP_REPLAY=off`` in the environment turns the
    replay off (the fallback path, on purpose)."""
    environ = os.environ if environ is None else environ
    if environ.get("PREFORK_LLHTTP_REPLAY", "").lower() in ("off", "0", "no", "false"):
        return None
    try:
        return LLHTTPReplay()
    except (OSError, AttributeError, ImportError, ReplayUnavailable):
        return None


_LLHTTP_API = load_replay()  # checked once at import and never changed


def replay_available():
    return _LLHTTP_API is not None


def diagnose(data, kind):
    if _LLHTTP_API is None:
        return None
    return _LLHTTP_API.diagnose(data, kind)


def extensions_overflow(data, limit):
    """Node's chunk-extension limit checked by a replay (a reference for tests: the
    parser counts extensions incrementally, see ``chunks.py``)."""
    if _LLHTTP_API is None:
        return None
    return _LLHTTP_API.span_overflow(data, limit + 1, ("on_chunk_extension_name", "on_chunk_extension_value"),
                                     ("on_chunk_header",))


def header_overflow(data, limit, kind=1):
    """Node: the target (or status text), names and values of a head (or trailers) stay
    under ``limit``. ``kind``: 1 request, 2 response."""
    if _LLHTTP_API is None:
        return None
    return _LLHTTP_API.span_overflow(data, limit, _HEADER_SPANS, _HEADER_RESETS, kind)



class HeaderCounter:
    """Node's header count kept read by read: a llhttp of its own is fed the same reads
    (each once) and counts the target, names and values as Node does, the span still
    open at the end of a read included (Node counts it there too). ``feed`` returns the
    offset in its argument where the count reaches ``limit``, or None; after any other
    error it stays quiet (the caller's parser reports such bytes itself)."""

    def __init__(self, lib, settings, slots, limit, kind):
        count = self._count = [0]  # the callbacks hold this list, not the counter

        def on_span(_parser, _at, length):
            count[0] += length
            return -1 if count[0] >= limit else 0

        def on_reset(_parser):
            count[0] = 0
            return 0

        self._lib = lib
        self.limit = limit
        self.broken = False
        self._callbacks = (_DATA_CB(on_span), _CB(on_reset))
        self._settings = settings
        for name in _HEADER_SPANS:
            settings[slots[name]] = ctypes.cast(self._callbacks[0], ctypes.c_void_p)
        for name in _HEADER_RESETS:
            settings[slots[name]] = ctypes.cast(self._callbacks[1], ctypes.c_void_p)
        self._parser = ctypes.create_string_buffer(512)
        self._lib.llhttp_init(self._parser, kind, self._settings)

    @property
    def count(self):
        return self._count[0]

    def feed(self, data):
        if self.broken:
            return None
        buf = ctypes.create_string_buffer(data, len(data))
        if self._lib.llhttp_execute(self._parser, buf, len(data)) == 0:
            return None
        self.broken = True
        if self._count[0] < self.limit:
            return None
        pos = self._lib.llhttp_get_error_pos(self._parser)
        return len(data) if not pos else pos - ctypes.addressof(buf)


def header_counter(limit, kind=1):
    """A ``HeaderCounter`` for heads of ``kind`` (1 request, 2 response; None without
    the checked llhttp API)."""
    return None if _LLHTTP_API is None else _LLHTTP_API.header_counter(limit, kind)
