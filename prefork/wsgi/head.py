"""The head a WSGI app gives (``start_response``'s status and headers), checked and put
on the ``ServerResponse``.

Rules:
- A status is a ``str`` (a subclass is one): three digits from 200 to 999 and a reason without control
  characters (a 1xx is never a final answer; a CR/LF would start a header line).
- Header names and values are ``str`` (PEP 3333's native strings; a subclass is one):
  ``b"v"`` or ``5`` would otherwise reach the client as their repr. A Content-Length is
  one run of ASCII digits; given twice, the same value. Anything else is the app's error
  (a 500 while the head is not out). A 204's Content-Length is checked, then dropped
  (RFC 9110 8.6), whether the body is a list or a generator and for HEAD too.
- Hop-by-hop headers from the app are dropped; ``Connection`` is kept only when it says
  ``close`` (an app may close its connection, never keep one open: whether a connection
  stays is the server's, which a client's ``Connection: close``, an HTTP/1.0 client,
  ``max_requests_per_socket`` or a draining worker decide). A repeated header name
  keeps every value (``Set-Cookie``).
- A value's leading and trailing spaces and tabs are dropped (RFC 9110 5.5: they are
  no part of it), as gunicorn drops them: Django gives its ``Set-Cookie`` values with a
  leading space, which would otherwise go out as ``Set-Cookie:  name=value``.
- ``wsgi.early_hints`` (as gunicorn offers it) takes fields checked the same way; a 103
  goes out only while the head is not, to an HTTP/1.1 client, and with a ``Link``: the
  Links on its Link line, every other pair on a line of its own, as gunicorn writes them.
- A body the status or the method forbids (HEAD, 204, 304) is dropped, as gunicorn
  drops it, whatever the server's ``reject_non_standard_body_writes`` (the events API's).
- A whole body's header list is checked and encoded once and kept as a ``HeaderBlock``
  (``_BLOCKS_KEPT`` lists at most, all forgotten when full).
"""

from ..http import framing, serialize
from .body import HEAD_ALONE

# hop-by-hop, except Connection; and Trailer: WSGI has no way to send trailers, so the
# field would announce fields that never come (and frame the body as the events API's
# Node rule does: chunked, or refused where it cannot be)
_DROPPED = frozenset(("keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                      "transfer-encoding", "upgrade", "trailer"))
_BLOCKS_KEPT = 256  # distinct header lists kept as blocks (all forgotten when full)


def apply_head(res, status, headers, status_cache, length=None):
    """Put the app's status and headers on ``res``; returns the lower-cased names set.
    A Content-Length equal to ``length`` (the whole body's, when known) is left to the
    response, which writes the same line itself; a 204's is dropped."""
    res.status_code, res.status_message = parse_status(status, status_cache)
    res.drop_body_writes = True  # (a body the status or method forbids: dropped, as gunicorn's)
    names = set()
    set_header = res.set_header
    given_length = None
    for name, value in headers:
        if (name.__class__ is not str or value.__class__ is not str) and not _both_str(name, value):
            raise not_str(name, value)
        key = name.lower()
        if key in _DROPPED:
            continue
        value = value.strip(" \t")  # (the same str when there is nothing to drop)
        if key == "connection" and not framing.asks_close(value):
            serialize.check_value(name, value)  # a bad one is the app's error all the same
            continue  # keep-alive (or a token list without close) is not the app's to say
        if key == "content-length":
            check_length(value)
            if given_length is not None:
                if value != given_length:
                    raise ValueError(f"the WSGI app gave two Content-Lengths: {given_length!r}, {value!r}")
                continue  # the same value again: one field
            given_length = value
        if key in names:
            current = res.get_header(name)  # None: a Content-Length left to the response
            if current is not None:
                value = (current if isinstance(current, list) else [current]) + [value]
            set_header(name, value)
            continue
        names.add(key)
        if key == "content-length" and (res.status_code == 304 and value == "0" or res.status_code == 204
                                        or length is not None and value == str(length) and res.status_code != 304):
            # a 204 has no Content-Length (RFC 9110 8.6), whatever the body's shape; a
            # 304's is the representation's, sent as given, but 0 is its own empty
            # body's (Django's 304s, whose body is an iterable of unknown length)
            continue
        set_header(name, value)
    return names


def parse_status(status, status_cache):
    """(code, reason or None) for a WSGI status line, kept in ``status_cache``."""
    parsed = status_cache.get(status)
    if parsed is None:
        if not isinstance(status, str):  # a str subclass (a framework's) is a str, as for the headers
            raise TypeError(f"the WSGI status must be a str, not {type(status).__name__}")
        code, _, reason = status.partition(" ")
        if len(code) != 3 or not code.isascii() or not code.isdigit() or code < "200":
            raise ValueError(f"invalid WSGI status {status!r}")
        if reason:
            serialize.check_value("status", reason)  # no CR/LF (a second head line), latin-1 only
        parsed = (int(code), reason or None)
        if len(status_cache) < 256:
            status_cache[status] = parsed
    return parsed


def check_length(value):
    """An app's Content-Length: one run of ASCII digits."""
    if value.__class__ is not str or not value.isascii() or not value.isdigit():
        raise ValueError(f"invalid Content-Length from the WSGI app: {value!r}")


def _both_str(name, value):
    return isinstance(name, str) and isinstance(value, str)  # str subclasses (a framework's) are str


def not_str(name, value):
    """The error for a header name or value that is not a ``str`` (PEP 3333's native
    strings): sent as is, ``b"v"`` or ``5`` would reach the client as their repr."""
    wrong = name if not isinstance(name, str) else value
    return TypeError(f"WSGI header names and values must be str, not {type(wrong).__name__}: {name!r}")


def not_bytes(block):
    """The error for a body block (or write()) that is not bytes."""
    return TypeError(f"WSGI body blocks must be bytes, not {type(block).__name__}")


def whole_block(headers, blocks):
    """``(block, content_length)`` for a whole body's head: the fields ``apply_head``
    would set, as a ``HeaderBlock`` without the Content-Length (whose value, or None,
    comes apart); ``(None, None)`` when the list needs the field-by-field path (a
    Connection or Date, a repeated Content-Length). Kept in ``blocks`` by the list
    (its ``key``, None when a name or value is not hashable: not kept)."""
    try:
        key = tuple(headers)
        entry = blocks.get(key)
    except TypeError:  # a name or value that is not hashable: not kept
        key = entry = None
    if entry is None:
        fields = {}
        for name, value in headers:
            if (name.__class__ is not str or value.__class__ is not str) and not _both_str(name, value):
                raise not_str(name, value)
            key_name = name.lower()
            if key_name in _DROPPED:
                continue
            value = value.strip(" \t")
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
    return entry, key is not None


class WholeHeads:
    """The heads of whole bodies (lists and tuples), by status line and header list:
    ``get`` gives ``(code, reason, block, length)``, ``block`` and ``length`` as
    ``whole_block`` has them but the length an ``int`` (-1 when it is not the decimal
    form of one: such a body goes field by field, whose rules judge it). The last head
    asked for is kept apart, compared before any hashing: an app gives the same head
    for most of its answers. The head ``get`` gave last is also in ``code``, ``reason``,
    ``block`` and ``fits``: the body size it goes out with as a block (None: any up to
    ``HEAD_ALONE``; -1: none, it goes field by field: no block, a 304's Content-Length,
    one over ``HEAD_ALONE``, whose body goes out after its head)."""

    __slots__ = ("statuses", "blocks", "status", "headers", "entry", "code", "reason", "block", "fits")

    def __init__(self, statuses):
        self.statuses = statuses  # status line -> (code, reason), shared with apply_head
        self.blocks = {}  # header list (a tuple) -> (HeaderBlock, Content-Length)
        self.status = self.headers = self.entry = None  # the last head asked for (a copy of its list)
        self.code = self.reason = self.block = None
        self.fits = -1

    def get(self, status, headers):
        """The head for ``status`` and ``headers``; raises what ``parse_status`` then
        ``whole_block`` raise for them."""
        if headers == self.headers and status == self.status and status.__class__ is str:
            return self.entry
        code, reason = parse_status(status, self.statuses)  # first, as apply_head
        (block, length), kept = whole_block(headers, self.blocks)
        if length is not None:
            length = int(length) if length.isascii() and length.isdigit() and str(int(length)) == length else -1
        entry = (code, reason, block, length)
        self.code, self.reason, self.block = code, reason, block
        self.fits = -1 if block is None or (length is not None and (code == 304 or length > HEAD_ALONE)) else length
        if kept and status.__class__ is str:
            self.status, self.headers, self.entry = status, list(headers), entry
        else:
            self.status = self.headers = None  # (the fields above are this head's, not a kept one's)
        return entry


def early_hints(headers):
    """The hints for a 103 from ``wsgi.early_hints(headers)`` (gunicorn's list of
    ``(name, value)``), as ``ServerResponse.write_early_hints`` takes them; checked as a
    head's fields are (the 103 itself needs a ``Link``, as Node's does)."""
    links, pairs = [], []
    for name, value in headers:
        if not _both_str(name, value):
            raise not_str(name, value)
        serialize.check_name(name)
        serialize.check_value(name, value)
        if name.lower() == "link":
            links.append(value)
        else:
            pairs.append((name, value))
    return Hints(links, pairs)


class Hints:
    """A ``wsgi.early_hints`` call's fields as the mapping ``write_early_hints`` reads:
    its Links (one field), then each other pair on a line of its own, as given and in
    order, as gunicorn writes them (a mapping would join a repeated name's values on one
    line, as Node's ``writeEarlyHints`` writes a list)."""

    __slots__ = ("links", "pairs")

    def __init__(self, links, pairs):
        self.links = links
        self.pairs = pairs

    def get(self, key, default=None):
        return (self.links or default) if key == "link" else default

    def items(self):
        return self.pairs
