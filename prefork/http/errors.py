"""Protocol errors with Node's codes and the status a server answers with.

httptools reports llhttp's reason text but not its error number or position. On the
error path (never the hot path) the bytes of the failing message are replayed through
llhttp itself, through the C API that the httptools extension exports, which yields
the exact ``HPE_*`` name and the offset where parsing stopped (Node's ``bytesParsed``).
If that API is unavailable the code is derived from the reason text.
"""

import ctypes

# Canned replies carry the status of the error (431/413/408), anything else is 400.
_STATUS_HINT = {
    "HPE_HEADER_OVERFLOW": 431,
    "HPE_CHUNK_EXTENSIONS_OVERFLOW": 413,
    "ERR_HTTP_REQUEST_TIMEOUT": 408,
}


class HTTPError(Exception):
    """An error with Node's ``code`` and ``message``; unset Node fields are None."""

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


class ParseError(HTTPError):
    """llhttp rejected the bytes (or one of our limits did): whose fault: the peer's."""

    def __init__(self, code, reason, bytes_parsed=None, raw_packet=None):
        message = "Parse Error" if code == "HPE_INVALID_EOF_STATE" else "Parse Error: " + reason
        super().__init__(code, message, reason, bytes_parsed, raw_packet)


def request_timeout_error():
    return HTTPError("ERR_HTTP_REQUEST_TIMEOUT", "Request timeout")


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
# llhttp_settings_t slots (llhttp 9)
_ON_MESSAGE_BEGIN = 0
_ON_URL = 2
_ON_HEADER_FIELD = 6
_ON_HEADER_VALUE = 7
_ON_CHUNK_EXTENSION_NAME = 8
_ON_CHUNK_EXTENSION_VALUE = 9
_ON_HEADERS_COMPLETE = 10
_ON_CHUNK_HEADER = 22
_DATA_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _LLHTTP:
    def __init__(self):
        import httptools.parser.parser as ext

        lib = ctypes.CDLL(ext.__file__)
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

    def _run(self, data, kind, settings):
        lib = self.lib
        parser = ctypes.create_string_buffer(512)
        lib.llhttp_init(parser, kind, settings)
        buf = ctypes.create_string_buffer(data, len(data))
        err = lib.llhttp_execute(parser, buf, len(data))
        pos = lib.llhttp_get_error_pos(parser) if err else None
        return parser, err, (pos - ctypes.addressof(buf) if pos else None)

    def span_overflow(self, data, limit, spans, resets):
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

        settings = (ctypes.c_void_p * 32)()
        self.lib.llhttp_settings_init(settings)
        span_cb = _DATA_CB(on_span)
        reset_cb = _CB(on_reset)
        for slot in spans:
            settings[slot] = ctypes.cast(span_cb, ctypes.c_void_p)
        for slot in resets:
            settings[slot] = ctypes.cast(reset_cb, ctypes.c_void_p)
        _, err, pos = self._run(data, 1, settings)
        return pos if err and counted[0] >= limit else None

    def diagnose(self, data, kind):
        """Run ``data`` through a fresh llhttp (1 = request, 2 = response).

        Returns ``(code, reason, offset)`` of the first error, or None.
        """
        lib = self.lib
        parser = ctypes.create_string_buffer(512)
        settings = ctypes.create_string_buffer(512)
        lib.llhttp_settings_init(settings)
        lib.llhttp_init(parser, kind, settings)
        buf = ctypes.create_string_buffer(data, len(data))
        err = lib.llhttp_execute(parser, buf, len(data))
        if err == 0 or err == _HPE_PAUSED_UPGRADE:
            return None
        pos = lib.llhttp_get_error_pos(parser)
        offset = pos - ctypes.addressof(buf) if pos else None
        reason = lib.llhttp_get_error_reason(parser)
        return (lib.llhttp_errno_name(err).decode(),
                reason.decode("latin-1") if reason else "", offset)


def _load():
    try:
        return _LLHTTP()
    except (OSError, AttributeError, ImportError):
        return None


_LLHTTP_API = _load()  # a handle on a C library, loaded once at import and never changed


def diagnose(data, kind):
    if _LLHTTP_API is None:
        return None
    return _LLHTTP_API.diagnose(data, kind)


def extensions_overflow(data, limit):
    """Node: a chunk's extensions may hold ``limit`` bytes (name and value spans)."""
    if _LLHTTP_API is None:
        return None
    return _LLHTTP_API.span_overflow(data, limit + 1, (_ON_CHUNK_EXTENSION_NAME, _ON_CHUNK_EXTENSION_VALUE),
                                     (_ON_CHUNK_HEADER,))


def header_overflow(data, limit):
    """Node: the target, names and values of a head (or trailers) stay under ``limit``."""
    if _LLHTTP_API is None:
        return None
    return _LLHTTP_API.span_overflow(data, limit, (_ON_URL, _ON_HEADER_FIELD, _ON_HEADER_VALUE),
                                     (_ON_MESSAGE_BEGIN, _ON_HEADERS_COMPLETE))
