"""The HTTP side of a WebSocket handshake, for the session (wsproto checks the rest).

Rules:
- ``replayed_request`` gives wsproto the request head as the server parsed it, after
  the checks wsproto does not make: a ``Sec-WebSocket-Key`` (for version 13) must be
  base64 of 16 bytes (RFC 6455 4.2.1; two keys joined are not one), the version is
  given on one line (RFC 6455 11.3.5; wsproto would take the last line: two lines are
  a 400; one line that lists several versions, ``13, 8``, is a version the server does
  not speak, a 426 naming 13, RFC 6455 4.2.2, as uvicorn answers it on wsproto and
  websockets), and the request has
  no body (its bytes would be read as frames) and a ``Host`` (named as missing: wsproto's
  HTTP/1.1 parser says only "Bad HTTP message"), else ``RemoteProtocolError`` with a 400 hint. Its ``Host`` is
  replayed as a plain name: wsproto decodes the Host as IDNA (and raises on
  ``xn--zz`` or a non-ASCII byte) though nothing reads its reading of it (the scope has
  the request's own headers), and an HTTP request with the same Host is served. Its
  ``Upgrade`` is replayed as ``websocket``: the adapter took the request for a
  WebSocket because that protocol is in its list (``Upgrade: h2c, websocket``), where
  wsproto wants the one word. Every header line is replayed, also those past
  ``max_headers_count``'s cut of the raw list (``all_raw_headers``), so a field past
  the cut is not missing to wsproto, and two version lines past it are two.
- ``handshake_events`` is wsproto's reading of that head; a header wsproto cannot
  decode (a non-ASCII byte in ``Connection`` or a ``Sec-WebSocket-*`` token list) is
  refused as its other mistakes are (``RemoteProtocolError``, 400), not an exception
  out of the server's ``upgrade`` listener (a connection closed unanswered, a
  traceback logged per request). A version other than 13 is named as such (wsproto's
  message says the header is missing).
- ``refusal`` is the answer to a handshake refused that way (or by wsproto): a
  ``Denial`` with the hint's status and headers and the reason as a text body.
- ``Denial`` is an HTTP response sent in place of the handshake: the app's denial
  (the ``websocket.http.response`` extension), the 403 of a ``websocket.close`` before
  the accept, the 500 of an app that fails before it. It has the status line with its
  reason phrase, the app's headers (checked as any response's: a bad one raises
  before a byte is written), ``Date`` unless the app gave one, ``Connection: close``
  (the connection ends after it), and a body framed by the app's ``Content-Length``
  or else chunked. As an HTTP response's, the body keeps that length: one that is not a
  decimal length (or repeats of one) raises RuntimeError at the start; a body message
  that would go past it, or the last one short of it, raises RuntimeError before its
  bytes are given out (a denial whose head was not out yet gets the 500 in its place).
  ``denial_status`` reads the app's status: 200-599, an ``IntEnum`` member
  (``HTTPStatus.FORBIDDEN``) as its number.
"""

import binascii

from wsproto.events import RejectConnection
from wsproto.utilities import RemoteProtocolError

from ..http.framing import LAST_CHUNK, chunk, status_has_body
from ..http.serialize import check_name, check_value, http_date, status_line

_DROPPED = frozenset(("connection", "transfer-encoding", "keep-alive"))  # the framing is the denial's own
# the fields replayed to wsproto as fixed lines (module rules)
_REPLAYED = {"host": "Host: host\r\n", "upgrade": "Upgrade: websocket\r\n"}


class Denial:
    """``head()``, then ``body(data, finished)`` for each body message."""

    def __init__(self, status, headers=()):
        lines = [status_line(status)]
        names, lengths = set(), set()
        for name, value in headers:
            name, value = bytes(name).decode("latin-1"), bytes(value).decode("latin-1")
            check_name(name)
            check_value(name, value)
            lower = name.lower()
            names.add(lower)
            if lower == "content-length":
                lengths.add(value.strip(" \t"))
            if lower not in _DROPPED:
                lines.append(f"{name}: {value}\r\n")
        if "date" not in names:
            lines.append(f"Date: {http_date()}\r\n")
        lines.append("Connection: close\r\n")
        self.has_body = status_has_body(status)
        self.chunked = self.has_body and "content-length" not in names
        self.left = self.has_body and not self.chunked and declared(lengths)  # (the bytes still owed)
        if self.chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        lines.append("\r\n")
        self.lines = "".join(lines).encode("latin-1")

    def head(self):
        return self.lines

    def body(self, data, finished):
        if not self.has_body:
            return b""
        if not self.chunked:
            data = bytes(data)
            left = self.left - len(data)
            if left < 0 or finished and left:
                raise RuntimeError(f"Response content {'longer' if left < 0 else 'shorter'} than Content-Length.")
            self.left = left
            return data
        return (chunk(data) if data else b"") + (LAST_CHUNK if finished else b"")


def declared(lengths):
    """The length the app's Content-Length values declare, else RuntimeError."""
    value = lengths.pop() if len(lengths) == 1 else None
    if value is None or not value.isdigit() or not value.isascii():
        raise RuntimeError(f"Invalid Content-Length {sorted(lengths) or [value]!r} in a denial response.")
    return int(value)


def denial_status(status):
    """The status of a denial's start as an int from 200 to 599 (an ``IntEnum`` member,
    ``HTTPStatus.FORBIDDEN``, is its number, as uvicorn sends it; a bool is no status),
    else RuntimeError."""
    if isinstance(status, int) and not isinstance(status, bool) and 200 <= status < 600:
        return int(status)
    raise RuntimeError(f"Invalid HTTP status code {status!r} in a denial response.")


def valid_key(key):
    """A ``Sec-WebSocket-Key`` value that is base64 of 16 bytes."""
    if not key or len(key) != 24:
        return False
    try:
        return len(binascii.a2b_base64(key.encode("ascii"), strict_mode=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def repeated(raw, name):
    """Whether the field ``name`` (lower case) has more than one line in the raw header
    list ``raw`` (the server joins repeated lines with commas; one line may hold a
    comma itself)."""
    return sum(1 for i in range(0, len(raw), 2) if raw[i].lower() == name) > 1


def replayed_request(req):
    """The request head for wsproto, as bytes."""
    fields = req.all_headers  # (the framing fields may be past max_headers_count's cut)
    version = fields.get("sec-websocket-version")
    if version is not None and "," in version:
        if repeated(req.all_raw_headers, "sec-websocket-version"):  # (repeated lines are joined)
            raise RemoteProtocolError("Sec-WebSocket-Version given more than once", RejectConnection(status_code=400))
        raise RemoteProtocolError("unsupported Sec-WebSocket-Version (13 is supported)",  # one line, "13, 8"
                                  RejectConnection(status_code=426, headers=[(b"Sec-WebSocket-Version", b"13")]))
    key = fields.get("sec-websocket-key")
    if version == "13" and not valid_key(key):  # (named missing when it is, as the websockets library names it)
        raise RemoteProtocolError("bad Sec-WebSocket-Key" if key is not None else "missing Sec-WebSocket-Key header",
                                  RejectConnection(status_code=400))
    if "host" not in fields:  # (RFC 6455 4.1; wsproto's h11 would say only "Bad HTTP message")
        raise RemoteProtocolError("missing Host header", RejectConnection(status_code=400))
    if (fields.get("content-length") or "0").strip("0") or "transfer-encoding" in fields:  # 0, 00: no body
        # its bytes would be read as the first frames (uvicorn refuses it too)
        raise RemoteProtocolError("a WebSocket handshake with a body", RejectConnection(status_code=400))
    lines = [f"{req.method} {req.url} HTTP/{req.http_version}\r\n"]
    raw = req.all_raw_headers  # (every line, also those past max_headers_count's cut)
    lines += [_REPLAYED.get(raw[i].lower()) or f"{raw[i]}: {raw[i + 1]}\r\n" for i in range(0, len(raw), 2)]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def handshake_events(ws, req):
    """wsproto's events for the handshake ``req`` (its ``Request`` first, when accepted)."""
    try:
        ws.receive_data(replayed_request(req))
        return list(ws.events())
    except UnicodeError as err:  # wsproto decodes token lists as ASCII
        raise RemoteProtocolError(f"a header that is not ASCII ({getattr(err, 'reason', err)})",
                                  RejectConnection(status_code=400)) from None
    except RemoteProtocolError as err:
        hint = err.event_hint
        if isinstance(hint, RejectConnection) and hint.status_code == 426:  # wsproto says "Missing header"
            raise RemoteProtocolError("unsupported Sec-WebSocket-Version (13 is supported)", hint) from None
        raise


def refusal(status, headers, reason):
    """The bytes of the answer to a refused handshake: ``status`` (400, or 426 naming the
    version), wsproto's ``headers`` and ``reason`` as the body."""
    body = f"Bad WebSocket handshake: {reason}\n".encode("ascii", "replace")
    denial = Denial(status, [*headers, (b"Content-Type", b"text/plain; charset=utf-8"),
                             (b"Content-Length", str(len(body)).encode())])
    return denial.head() + denial.body(body, True)


def forbidden():
    """The bytes of the 403 a ``websocket.close`` before the accept answers: empty, with
    the ``Content-Type`` of the server's other text answers (as uvicorn's 403 has one)."""
    return Denial(403, [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Content-Length", b"0")]).head()


def error_response():
    """The bytes of the 500 an app that fails before its accept gets."""
    denial = Denial(500, [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Content-Length", b"21")])
    return denial.head() + denial.body(b"Internal Server Error", True)
