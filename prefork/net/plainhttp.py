"""A plain HTTP request sent to a TLS port (net/tls.py): the 400 in the clear that tells
the peer so, and what the access log reads of the request from the stream's first bytes.

Rules:
- The first ``PLAIN_LINE_MAX`` bytes of the stream are kept: the request line is logged
  when it is whole in them, and the head's fields (the Referer and User-Agent the log
  reads, as nginx logs them) when the whole head is, its lines all well-formed fields
  (names lower-cased, a repeated field's first value); else no field is read. Reading
  them takes time linear in the bytes kept, whatever they hold (a peer's plain request
  holds up the worker's loop no longer than its bytes' copy).
- A ``HEAD`` is answered with the 400's head alone (RFC 9110 9.3.2), as nginx answers it.
- A PROXY protocol header (a balancer's ``send-proxy`` towards a TLS listener without
  ``proxy_protocol``) is refused with a 400 in the clear too, as on a plain listener,
  its text naming the header rather than plain HTTP; a version 1 line is the request
  line to log (http/proxyline.py). Either version is known by its start (version 1's
  ``PROXY ``, version 2's signature), or as much of it as came when OpenSSL refused the
  stream (5 bytes at least: a record's header).
"""

import re

from ..http.proxyline import V2_SIGNATURE, proxy_header

_V1_START = b"PROXY "
PLAIN_LINE_MAX = 8192  # bytes of a plain HTTP stream kept for its request line and head
_REQUEST_LINE = re.compile(rb"([A-Z]{1,20}) ([\x21-\x7e\x80-\xff]+) HTTP/(\d\.\d)\r?\n")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):(.*)")  # (the value's blanks stripped after: linear)
_HEAD_END = re.compile(rb"\r?\n\r?\n")
PLAIN_TEXT = b"This port speaks HTTPS; the request came in plain HTTP.\n"
PLAIN_HTTP_ANSWER = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (len(PLAIN_TEXT), PLAIN_TEXT))
PLAIN_HEAD_ANSWER = PLAIN_HTTP_ANSWER[:-len(PLAIN_TEXT)]  # to HEAD: the head alone (RFC 9110 9.3.2), as nginx's
PROXY_TEXT = b"This port speaks HTTPS; a PROXY protocol header came where a TLS ClientHello was expected.\n"
PROXY_ANSWER = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (len(PROXY_TEXT), PROXY_TEXT))


def kept_from(first_byte):
    """Whether a stream that starts with ``first_byte`` is kept for the module's reading:
    a method's first letter (a PROXY v1 header's too), or a v2 signature's CR."""
    return 65 <= first_byte <= 90 or first_byte == 13


def proxy_version(data):
    """1 or 2 when ``data`` starts with a PROXY protocol header (module rules), else None."""
    if len(data) >= 5 and V2_SIGNATURE.startswith(data[:len(V2_SIGNATURE)]):
        return 2
    if len(data) >= 5 and _V1_START.startswith(data[:len(_V1_START)]):
        return 1  # (its line cut where OpenSSL refused the stream: no line to log)
    found = proxy_header(data)
    return found[0] if found is not None else None


def answer(data):
    """(the bytes to answer, (status, request line, body bytes, fields) for the access
    log, the PROXY protocol version or None) for a stream that starts with ``data``."""
    version = proxy_version(data)
    if version is not None:
        found = proxy_header(data)
        return PROXY_ANSWER, (400, found and found[1], len(PROXY_TEXT), None), version
    head = data.startswith(b"HEAD ")
    line, fields = plain_request(data)
    return (PLAIN_HEAD_ANSWER if head else PLAIN_HTTP_ANSWER), (400, line, 0 if head else len(PLAIN_TEXT), fields), None


def plain_request(data):
    """((method, target, version) or None, the head's fields or None) of a plain HTTP
    request at the start of ``data`` (module rules)."""
    found = _REQUEST_LINE.match(data)
    if found is None:
        return None, None
    line = found[1].decode("ascii"), found[2].decode("latin-1"), found[3].decode("ascii")
    start = found.end()
    end = _HEAD_END.search(data, start - 2)  # (a head of the line alone ends at its own line end)
    if end is None:
        return line, None
    fields = {}
    for field in re.split(rb"\r?\n", data[start:end.start()]) if end.start() > start else ():
        named = _FIELD.fullmatch(field)
        if named is None:
            return line, None
        fields.setdefault(named[1].decode("ascii").lower(), named[2].strip(b" \t").decode("latin-1"))
    return line, fields
