"""Response bytes: status lines, header lines, chunk framing, a Date cached per second.

Rules (Node's): the status line always says HTTP/1.1; a code without a standard reason
gets ``unknown``; interim (1xx) heads and canned error replies carry no Date.
``HeadCache`` keeps the constant part of a keep-alive head (status line, Date,
Connection, Keep-Alive) as bytes, rebuilt when the second or the keep-alive knobs change;
it also keeps the Date + Connection + Keep-Alive lines alone (``suffix``), which go after
the application's lines.
``HeaderBlock`` is a header list checked and encoded once (names and values checked as
``set_header`` checks them, repeated names kept as ``set_header`` keeps them: the last
value at the first one's place), for a response to reuse; it says whether it holds a
field that changes the framing or the automatic lines (Connection, Transfer-Encoding,
Date, Keep-Alive) and whether it holds a Content-Length. Early hints are checked as sent."""

import codecs
import math
import re
import time
from time import time as _wall

from .hexbase64 import from_base64, from_hex
from .jsnumber import int32

STATUS_CODES = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
    410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a Teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    509: "Bandwidth Limit Exceeded", 510: "Not Extended",
    511: "Network Authentication Required",
}

_STATUS_LINES = {code: f"HTTP/1.1 {code} {reason}\r\n" for code, reason in STATUS_CODES.items()}
STATUS_BYTES = {code: line.encode("latin-1") for code, line in _STATUS_LINES.items()}
_SPECIAL = ("connection", "transfer-encoding", "date", "keep-alive", "trailer")

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
PROCESSING = b"HTTP/1.1 102 Processing\r\n\r\n"

# Node's canned replies to client errors: raw bytes, no Date, no Content-Length.
CANNED = {
    status: f"HTTP/1.1 {status} {STATUS_CODES[status]}\r\nConnection: close\r\n\r\n".encode()
    for status in (400, 408, 413, 431)
}

_TOKEN = re.compile(r"^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+\Z")
_INVALID_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


class HeaderError(ValueError):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def reason_phrase(code):
    return STATUS_CODES.get(code, "unknown")


def status_line(code, message=None):
    if message is None:
        line = _STATUS_LINES.get(code)
        if line is not None:
            return line
        message = "unknown"
    return f"HTTP/1.1 {code} {message}\r\n"


def checked_status(status, message=None):
    """``status`` as the integer code to send (Node coerces it: ``"404"`` is 404), with
    ``message`` (None or a reason phrase) checked; raises HeaderError for a code outside
    100-999 or a message holding a character a head cannot carry."""
    code = int32(status)
    if not 100 <= code <= 999:
        shown = status if isinstance(status, (str, int)) else repr(status)
        if isinstance(status, float):  # as JavaScript writes the number
            shown = "NaN" if status != status else "Infinity" if status > 1e308 else \
                "-Infinity" if status < -1e308 else int(status) if status.is_integer() else status
        raise HeaderError("ERR_HTTP_INVALID_STATUS_CODE", f"Invalid status code: {shown}")
    if message is not None and _INVALID_VALUE.search(str(message)):  # (Node's: "in statusMessage")
        raise HeaderError("ERR_INVALID_CHAR", "Invalid character in status_message")
    return code


def body_chunk(data):
    """``data`` (not str, not exactly bytes) as a body chunk: bytes-like objects pass (a
    memoryview of wider items, or not contiguous, as a copy of its bytes, so that its
    ``len`` is the bytes sent); None raises TypeError with Node's code
    ERR_STREAM_NULL_VALUES, anything else with ERR_INVALID_ARG_TYPE."""
    if data is None:
        err = TypeError("May not write null values to stream")
        err.code = "ERR_STREAM_NULL_VALUES"
        raise err
    if isinstance(data, (bytes, bytearray)):  # (a subclass of bytes: its bytes)
        return data
    if isinstance(data, memoryview):
        return data if data.itemsize == 1 and data.ndim == 1 and data.c_contiguous else data.tobytes()
    err = TypeError(f"a body chunk must be str or bytes-like, not {type(data).__name__}")
    err.code = "ERR_INVALID_ARG_TYPE"
    raise err


_ENCODINGS = {"utf8": "utf-8", "utf-8": "utf-8", "latin1": "latin-1", "binary": "latin-1", "ascii": "latin-1",
              "ucs2": "utf-16-le", "ucs-2": "utf-16-le", "utf16le": "utf-16-le", "utf-16le": "utf-16-le"}


def _replacement(error):
    return b"\xef\xbf\xbd" * (error.end - error.start), error.end  # U+FFFD in UTF-8 (the utf-8 codec's only)


codecs.register_error("prefork.replacement", _replacement)


def utf8(text):
    """``text`` as UTF-8, a lone surrogate as U+FFFD (Node's; ``str.encode()`` raises)."""
    return text.encode("utf-8", "prefork.replacement")


def encoded(data, encoding):
    """A ``str`` body chunk as bytes in one of Node's encodings (``utf8``, ``latin1`` or
    ``binary``, ``ascii``, ``hex``, ``base64``, ``base64url``, ``ucs2``/``utf16le``);
    bytes pass as they are. An unknown encoding raises ERR_UNKNOWN_ENCODING."""
    if not isinstance(data, str):
        return data
    name = encoding.lower()
    codec = _ENCODINGS.get(name)
    if codec is not None:
        try:
            return data.encode(codec)
        except UnicodeEncodeError:
            if codec == "latin-1":  # Node keeps the low byte of each UTF-16 code unit: "€" is 0xAC
                return data.encode("utf-16-le", "surrogatepass")[::2]
            if codec == "utf-16-le":  # a lone surrogate is its code unit, as Node's ucs2 writes it
                return data.encode(codec, "surrogatepass")
            return utf8(data)
    if name == "hex":  # (lenient, as Node's: http/hexbase64.py)
        return from_hex(data)
    if name in ("base64", "base64url"):
        return from_base64(data)
    err = TypeError(f"Unknown encoding: {encoding}")
    err.code = "ERR_UNKNOWN_ENCODING"
    raise err


def shown(value):
    """A name or value as Node's error messages show it (``"${value}"``): None is
    JavaScript's undefined, a bool its ``true``/``false``."""
    if value is None:
        return "undefined"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def check_name(name, what="Header"):
    """``what``: "Trailer" for ``add_trailers``' fields, as Node's message says."""
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise HeaderError("ERR_INVALID_HTTP_TOKEN", f'{what} name must be a valid HTTP token ["{shown(name)}"]')


_INVALID_PATH = re.compile("[^\u0021-\u00ff]")  # Node's INVALID_PATH_REGEX


def check_path(path):
    """A client request's path as Node checks ``options.path``: nothing outside
    \u0021-\u00ff reaches the request line; empty or None is ``/``."""
    if path is None or path == "":
        return "/"
    path = str(path)
    if _INVALID_PATH.search(path):
        raise HeaderError("ERR_UNESCAPED_CHARACTERS", "Request path contains unescaped characters")
    return path


def check_method(method):
    """A client request's method as Node checks ``options.method``: an HTTP token,
    upper-cased; empty or None is GET."""
    if method is None or method == "":
        return "GET"
    if not isinstance(method, str):
        err = TypeError(f'The "options.method" property must be of type string. Received {method!r}')
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    if not _TOKEN.match(method):
        raise HeaderError("ERR_INVALID_HTTP_TOKEN", f'Method must be a valid HTTP token ["{method}"]')
    return method.upper()


class WireText(str):
    """A field value given as bytes: its latin-1 text, whose characters are those bytes
    on the wire (a head holding one is never re-encoded as UTF-8)."""

    wire = True  # (as a ``Spelled`` line of one says it)

    def __reduce__(self):  # (copied and pickled as a plain value of its class)
        return WireText, (str(self),)


def _wire(value):
    """A non-ASCII value given as bytes (a ``WireText``, or a ``Spelled`` line of one)."""
    return getattr(value, "wire", False) and not value.isascii()


def utf8_head(head, fields):
    """``head`` (its text as latin-1) re-encoded as UTF-8, as Node sends a head joined to
    a utf8 chunk, where it has a non-ASCII character and no non-ASCII value in ``fields``
    (a ``{key: (name, value)}`` map or None) was given as bytes (those bytes stand);
    else ``head`` itself."""
    if head.isascii() or any(_wire(value) or (type(value) is list and any(map(_wire, value)))
                             for _, value in (fields or {}).values()):
        return head
    return head.decode("latin-1").encode()


def field_value(value):
    """A field value as the head keeps it: bytes (and bytes items of a list) read as
    latin-1 (``WireText``), the bytes they are on the wire, and checked as text; a bool
    (an item of a list too) as JavaScript's ``String()`` writes it; a tuple as a list."""
    if type(value) is bytes:
        return WireText(value.decode("latin-1"))
    if value is True or value is False:
        return "true" if value else "false"  # (JavaScript's String(true))
    if isinstance(value, (list, tuple)):
        if any(type(item) is bytes or item is True or item is False for item in value):
            return [_item_value(item) for item in value]
        if type(value) is tuple:
            return list(value)
    return value


def _item_value(item):
    """An item of a list value: bytes as a ``WireText``, a bool as JavaScript writes it."""
    if type(item) is bytes:
        return WireText(item.decode("latin-1"))
    if item is True or item is False:
        return "true" if item else "false"
    return item


def check_value(name, value, what="header"):
    """Node's messages (None is its undefined); ``what``: "trailer" for ``add_trailers``'
    fields, as Node's says."""
    if value is None:
        raise HeaderError("ERR_HTTP_INVALID_HEADER_VALUE", f'Invalid value "undefined" for header "{shown(name)}"')
    if isinstance(value, (list, tuple)):
        for item in value:
            check_value(name, item, what)
        return
    if _INVALID_VALUE.search(str(value)):
        raise HeaderError("ERR_INVALID_CHAR", f'Invalid character in {what} content ["{shown(name)}"]')


class Spelled(str):
    """A field value that keeps its own spelling of the field's name: a line of a name
    repeated with another spelling in Node's array form (``write_head(200, ["X-A", "1",
    "x-a", "2"])``), which Node writes as given."""

    def __new__(cls, value, name):
        self = super().__new__(cls, value)
        self.name = name
        self.wire = type(value) is WireText  # (given as bytes: those bytes stand, as a WireText's)
        return self

    def __reduce__(self):  # (copied and pickled as it is made: an app may deepcopy get_headers())
        return Spelled, (WireText(self) if self.wire else str(self), self.name)


def header_lines(name, value, unique=None):
    """``Name: value\\r\\n`` lines; a list value gives one line per item (a ``Spelled``
    item under its own spelling of the name), except a
    ``Cookie`` list of two or more, or the list of a name in ``unique`` (a set of
    lower-case names: Node's ``uniqueHeaders``): one line, its items joined with "; "
    (as Node writes it, a request's cookies being one field)."""
    if isinstance(value, (list, tuple)):
        if (len(value) > 1 and len(name) == 6 and name.lower() == "cookie") or \
                (unique and name.lower() in unique):  # (an empty list too: one empty field, as Node's)
            return f"{name}: {'; '.join(map(str, value))}\r\n"
        return "".join(f"{item.name if type(item) is Spelled else name}: {item}\r\n" for item in value)
    return f"{name}: {value}\r\n"


def early_hints(hints):
    """The 103 head for ``hints`` (hints.py's, kept here for callers of this module)."""
    from .hints import early_hints as head  # (hints.py imports this module)
    return head(hints)


class HeaderBlock:
    """Application header fields checked and encoded once: ``data`` (their lines as
    bytes), ``pairs`` (the (name, value) fields, for ``set_header``), ``headers`` (the
    response's map, lower-case name: (name, value)), ``plain`` (no Connection,
    Transfer-Encoding, Date, Keep-Alive or Trailer) and ``has_length`` (a Content-Length)."""

    __slots__ = ("data", "pairs", "headers", "plain", "has_length")

    def __init__(self, headers):
        self.headers = headers
        self.pairs = tuple((name, tuple(value) if type(value) is list else value)
                           for name, value in headers.values())
        self.data = "".join([header_lines(name, value) for name, value in headers.values()]).encode("latin-1")
        self.plain = not any(key in headers for key in _SPECIAL)
        self.has_length = "content-length" in headers

    @classmethod
    def from_pairs(cls, pairs):
        """The block for ``pairs`` ((name, value), str or bytes, bytes read as latin-1);
        raises ``HeaderError`` as ``set_header`` would for the first bad field."""
        headers = {}
        for name, value in pairs:
            if type(name) is bytes:
                name = name.decode("latin-1")
            if type(value) is bytes:
                value = value.decode("latin-1")
            check_name(name)
            check_value(name, value)
            headers[name.lower()] = (name, list(value) if isinstance(value, tuple) else value)
        return cls(headers)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds=None):
    """``seconds`` since the epoch (now when None) as an IMF-fixdate (RFC 9110 5.6.7),
    e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``: English names whatever the locale, and no
    import of ``email`` (a megabyte in every worker) for it."""
    t = time.gmtime(seconds)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


class DateCache:
    """``Date: <IMF-fixdate>\\r\\n``, formatted once per second."""

    __slots__ = ("_second", "_line")

    def __init__(self):
        self._second = -1
        self._line = ""

    def line(self):
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = "Date: " + http_date(now) + "\r\n"
        return self._line


class HeadCache(DateCache):
    """Per server: the Date line (``line()``), the ``Connection: keep-alive`` and
    ``Keep-Alive`` lines for the server's knobs (``keep_alive_lines``), and whole
    prefixes ``status line + Date + those lines`` as bytes (``prefix``), or with
    ``Connection: close`` (``closing_prefix``), for heads that carry no application
    header."""

    __slots__ = ("_until", "_timeout", "_cap", "_lines", "_prefixes", "_suffix", "_closing")

    def __init__(self):
        super().__init__()
        self._until = 0.0
        self._timeout = self._cap = None
        self._lines = ""
        self._prefixes = {}
        self._closing = {}
        self._suffix = b""

    def keep_alive_lines(self, timeout, cap):
        if timeout != self._timeout or cap != self._cap:
            self._timeout = timeout
            self._cap = cap
            lines = "Connection: keep-alive\r\n"
            if timeout and timeout == timeout:  # (Node's falsy: None, 0, NaN; its floor of the rest)
                lines += f"Keep-Alive: timeout={math.floor(timeout)}" + (f", max={cap}\r\n" if cap and cap > 0 else "\r\n")
            self._lines = lines
            self._prefixes = {}
            self._until = 0.0  # the suffix is rebuilt at its next use
        return self._lines

    def prefix(self, status, timeout, cap):
        """``status line + Date + keep-alive lines`` (bytes) for a standard ``status``, else None."""
        if _wall() >= self._until or timeout != self._timeout or cap != self._cap:
            self._refresh(timeout, cap)
        try:
            return self._prefixes[status]  # (no call: this runs per response)
        except KeyError:  # the first of this second (or these lines) for ``status``
            return self._made(self._prefixes, status, self._lines)

    def closing_prefix(self, status):
        """``status line + Date + Connection: close`` (bytes) for a standard ``status``,
        else None: the head of a response that ends its connection."""
        if _wall() >= self._until:
            self._refresh(self._timeout, self._cap)
        head = self._closing.get(status)
        if head is None:
            head = self._made(self._closing, status, "Connection: close\r\n")
        return head

    def _made(self, table, status, lines):
        """``status line + Date + lines`` (bytes), kept in ``table`` for this second; None
        (kept too) for a status with no standard line."""
        line = _STATUS_LINES.get(status)
        if line is None:
            table[status] = None
            return None
        head = table[status] = (line + self._line + lines).encode("latin-1")
        return head

    def suffix(self, timeout, cap):
        """``Date + keep-alive lines`` (bytes): what follows the application's lines."""
        if _wall() >= self._until or timeout != self._timeout or cap != self._cap:
            self._refresh(timeout, cap)
        return self._suffix

    def _refresh(self, timeout, cap):
        self.keep_alive_lines(timeout, cap)
        self.line()
        self._until = self._second + 1.0
        self._prefixes = {}
        self._closing = {}
        self._suffix = (self._line + self._lines).encode("latin-1")
