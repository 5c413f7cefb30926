"""The response head's fields and a body message's bytes, from an ASGI app's messages.

Rules:
- Pure functions of the messages: no connection, no state. ``response_fields`` decodes
  and merges a header list (hop-by-hop fields the server frames are dropped);
  ``declared_length`` reads the Content-Length a checked block declares;
  ``chunked_last`` says whether a Transfer-Encoding ends in chunked; ``body_bytes``
  turns a body that is not ``bytes`` into bytes or raises TypeError.
"""


def response_fields(headers):
    """(name, value) pairs for ``set_header`` from an ASGI header list: names and values
    decoded as latin-1, repeated names merged into one field with a tuple of values
    (immutable: the pairs are kept for the next response with the same list). A
    Content-Length beside a Transfer-Encoding is left out: the coding frames the body
    (RFC 9112 6.3) and a message may not carry both (6.1; Node's parser refuses one);
    so is a Trailer field (no trailers follow), a Keep-Alive, and a Connection that
    does not say close."""
    fields = {}
    for name, value in headers:
        name = name.decode("latin-1") if type(name) is bytes else _text(name)
        value = value.decode("latin-1") if type(value) is bytes else _text(value)
        key = name.lower()
        seen = fields.get(key)
        if seen is None:
            fields[key] = (name, value)
        elif type(seen[1]) is tuple:
            fields[key] = (seen[0], seen[1] + (value,))
        else:
            fields[key] = (seen[0], (seen[1], value))
    if "transfer-encoding" in fields:
        fields.pop("content-length", None)
    # the connection is the server's to frame (hop-by-hop, RFC 9110 7.6.1): an app's
    # Connection is kept only when it says close, its Keep-Alive never (a "keep-alive"
    # sent on a connection the server closes, an HTTP/1.0 client's, misled the client)
    connection = fields.get("connection")
    if connection is not None and "close" not in str(connection[1]).lower():
        del fields["connection"]
    fields.pop("keep-alive", None)
    # (no trailers are sent, the ASGI trailers extension is not offered: a Trailer field
    # would announce fields that never come, and frame the body by the events API's rule)
    fields.pop("trailer", None)
    return tuple(fields.values())


def _text(item):
    """A name or value that is not ``bytes``: a bytearray or memoryview is bytes too (as
    uvicorn takes it), anything else its ``str()`` (checked as a field afterwards)."""
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item).decode("latin-1")
    return str(item)


def chunked_last(field):
    """True when a ``Transfer-Encoding`` field (None, a value, or a list of values) is
    absent or its last coding is chunked."""
    if field is None:
        return True
    values = field[1]
    text = ",".join(values) if type(values) in (list, tuple) else values
    return text.rpartition(",")[2].strip(" \t").lower() == "chunked"


def declared_length(block):
    """The Content-Length a header block declares, as an int (None: none); a value that
    is not one non-negative decimal number (or repeats of one) raises RuntimeError."""
    if not block.has_length:
        return None
    value = block.headers["content-length"][1]
    values = set(value) if type(value) is list else {value}
    if len(values) != 1:
        raise RuntimeError(f"Conflicting Content-Length values {sorted(values)!r} in response.")
    value = values.pop().strip()
    if not value.isdigit() or not value.isascii():
        raise RuntimeError(f"Invalid Content-Length {value!r} in response.")
    return int(value)


def body_bytes(body, kind="http.response.body"):
    """A body message's ``body`` that is not ``bytes``: None is none, ``str`` is UTF-8,
    any bytes-like object (a buffer: ``bytearray``, ``memoryview``, ``array``) is copied
    as its bytes, whatever its item size; anything else (an int, which ``bytes()`` would
    take as a count of NULs) raises TypeError naming the message ``kind``."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    try:
        view = memoryview(body)
    except TypeError:
        raise TypeError(f"{kind} 'body' must be bytes, not {type(body).__name__}") from None
    return view.tobytes()  # a copy: the socket may hold it after send()
