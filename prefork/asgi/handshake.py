"""The HTTP side of a WebSocket handshake, for the session (wsproto checks the rest).

Rules:
- ``replayed_request`` gives wsproto the request head as the server parsed it, after
  the checks wsproto does not make: a ``Sec-WebSocket-Key`` (for version 13) must be
  base64 of 16 bytes (RFC 6455 4.2.1), else ``RemoteProtocolError`` with a 400 hint.
- ``error_response`` is the 500 an app that fails before its accept gets.
"""

import binascii

from wsproto.events import RejectConnection, RejectData
from wsproto.utilities import RemoteProtocolError

_ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"),
                  (b"content-length", b"21")]


def valid_key(key):
    """A ``Sec-WebSocket-Key`` value that is base64 of 16 bytes."""
    if not key or len(key) != 24:
        return False
    try:
        return len(binascii.a2b_base64(key.encode("ascii"), strict_mode=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def replayed_request(req):
    """The request head for wsproto, as bytes."""
    headers = req.headers
    if headers.get("sec-websocket-version") == "13" and not valid_key(headers.get("sec-websocket-key")):
        raise RemoteProtocolError("bad Sec-WebSocket-Key", RejectConnection(status_code=400))
    raw = req.raw_headers
    lines = [f"{req.method} {req.url} HTTP/{req.http_version}\r\n"]
    lines += [f"{raw[i]}: {raw[i + 1]}\r\n" for i in range(0, len(raw), 2)]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def error_response(ws):
    """The bytes of a 500 from ``ws`` (a server WSConnection still connecting)."""
    return (ws.send(RejectConnection(status_code=500, headers=_ERROR_HEADERS, has_body=True))
            + ws.send(RejectData(data=b"Internal Server Error")))
