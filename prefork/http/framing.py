"""HTTP/1.1 message rules shared by the server's responses and the client's requests.

Rules (RFC 9112, as Node applies them):
- A response to HEAD, and a 1xx, 204 or 304 response, has no body.
- A ``Connection`` value asks to close when it holds the token ``close``; an ``Expect``
  value asks for a 100 when it holds ``100-continue``; a ``Transfer-Encoding`` value is
  chunked when it holds ``chunked``. Tokens are matched case-insensitively, as whole
  words of a comma-separated list. A received message's body is chunked only when
  ``chunked`` is the last coding (``chunked_last``; ``chunked`` then a tab is another
  coding); any other last coding makes it close-delimited (RFC 9112 6.3, as llhttp
  frames it).
- A body is framed by Content-Length when its whole length is known before the head is
  sent, else chunked when the peer can read chunked (HTTP/1.1, or an HTTP/1.0 request
  that sent ``TE: chunked``), else delimited by closing the connection.
- Chunk framing: ``SIZE-IN-HEX CRLF DATA CRLF``; the body ends with ``0 CRLF CRLF``.
- A client request of a method without a default body (GET, HEAD, DELETE, OPTIONS,
  TRACE, CONNECT) sends no framing header when it has no body.
"""

import re

LAST_CHUNK = b"0\r\n\r\n"
METHODS_WITHOUT_DEFAULT_BODY = frozenset(("GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"))

_CLOSE = re.compile(r"(?:^|\W)close(?:$|\W)", re.I)
_CHUNKED = re.compile(r"(?:^|\W)chunked(?:$|\W)", re.I)
_CONTINUE = re.compile(r"(?:^|\W)100-continue(?:$|\W)", re.I)


NO_BODY_STATUSES = frozenset((204, 304, *range(100, 200)))


def status_has_body(status):
    return status not in NO_BODY_STATUSES


def asks_close(connection_value):
    return bool(_CLOSE.search(str(connection_value)))


def is_chunked(transfer_encoding_value):
    return bool(transfer_encoding_value) and bool(_CHUNKED.search(str(transfer_encoding_value)))


def chunked_last(transfer_encoding_value):
    """A received body's framing: chunked only when ``chunked`` is the last coding (of the
    last field: repeated fields are joined in order). Given a value with its trailing
    blanks, a tab among them makes that coding another one (llhttp reads it so, and
    Node: the body is then close-delimited)."""
    if transfer_encoding_value is None:
        return False
    return transfer_encoding_value.rsplit(",", 1)[-1].lstrip(" \t").rstrip(" ").lower() == "chunked"


def expects_continue(expect_value):
    return expect_value is not None and bool(_CONTINUE.search(str(expect_value)))


def chunk(data):
    """One chunk of a chunked body (never the last, empty one)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def request_framing(method, content_length, wrote_body):
    """The framing header a client request needs: ``("length", N)``, ``("chunked",)`` or
    None. ``content_length`` is the whole body's length when ``end(data)`` is the only
    write, else None; ``wrote_body`` tells whether ``write()`` sent body bytes."""
    if content_length is not None:
        if content_length or method not in METHODS_WITHOUT_DEFAULT_BODY:
            return ("length", content_length)
        return None
    if wrote_body or method not in METHODS_WITHOUT_DEFAULT_BODY:
        return ("chunked",)
    return None
