"""WebSocket frame boundaries and the common frames, for the session's fast path.

Rules:
- ``next_frame`` only measures: it finds where the frame at ``pos`` ends (RFC 6455
  5.2) without judging it; a frame that is not whole yet gives None.
- ``is_plain`` says when the session may take a frame itself: a whole text or binary
  message in one frame (FIN set, no RSV bits, so not compressed), masked as a client's
  frame must be. Everything else (control frames, fragments, compressed frames,
  protocol errors) goes to wsproto whole, so wsproto's state stays exact.
- ``well_formed``: a header wsproto would take (masked; its length in the fewest bytes
  and a 64-bit one with its top bit clear, RFC 6455 5.2). The fast path takes, or
  refuses as too big, only such frames, so a frame gets the same verdict whichever
  path reads it: a malformed header is wsproto's 1002, even on a huge frame.
- ``unmask`` and ``server_frame`` are the byte work of those plain frames.
- ``outgoing`` takes a ``websocket.send`` message's payload only when it is
  ``bytes``-like or ``text`` a ``str`` (an int is not silently a buffer of zeros).
- ``close_code`` refuses a code that may not be sent (an ``IntEnum`` member is taken as
  its number, a bool is refused), and a reason UTF-8 cannot encode (a lone surrogate:
  UnicodeEncodeError, as uvicorn raises it), before anything is sent, so the session is
  still open for the close that follows the app's failure; a reason longer than a close
  frame carries (123 bytes of UTF-8) is not refused (the spec lets it be any string):
  wsproto cuts it to fit, at a character boundary, so the client still gets the code.
"""

_OPCODE_TEXT = 0x1
_OPCODE_BINARY = 0x2


def next_frame(buf, pos, size):
    """(header end, frame end, payload length) of the frame at ``pos``, or None."""
    if size - pos < 2:
        return None
    length = buf[pos + 1] & 0x7F
    header = pos + 2
    if length == 126:
        if size - pos < 4:
            return None
        length = int.from_bytes(buf[pos + 2:pos + 4], "big")
        header = pos + 4
    elif length == 127:
        if size - pos < 10:
            return None
        length = int.from_bytes(buf[pos + 2:pos + 10], "big")
        header = pos + 10
    if buf[pos + 1] & 0x80:
        header += 4  # the masking key
    return header, header + length, length


def is_plain(first, second):
    """A whole, uncompressed, masked text or binary message in one frame."""
    return (first == 0x81 or first == 0x82) and second & 0x80


def well_formed(buf, pos, length):
    """The header of the frame at ``pos`` (of payload ``length``) is masked and minimal."""
    second = buf[pos + 1]
    if not second & 0x80:
        return False
    second &= 0x7F
    if second == 126:
        return length > 125
    if second == 127:
        return 0xFFFF < length < 1 << 63
    return True


def is_text(first):
    return first & 0x0F == _OPCODE_TEXT


def starts_fragments(first):
    """A data frame without FIN: a fragmented message begins."""
    return not first & 0x80 and first & 0x0F in (_OPCODE_TEXT, _OPCODE_BINARY)


def unmask(buf, header, end, length):
    if not length:
        return b""
    key = buf[header - 4:header]
    payload = int.from_bytes(buf[header:end], "little")
    mask = int.from_bytes((key * (length // 4 + 1))[:length], "little")
    return (payload ^ mask).to_bytes(length, "little")


def server_frame(text, payload):
    """An unmasked, final, uncompressed text or binary frame."""
    first = 0x81 if text else 0x82
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big") + payload
    return bytes((first, 127)) + length.to_bytes(8, "big") + payload


def outgoing(message):
    """(is_text, payload) of a ``websocket.send`` message: ``bytes`` when it is not
    None, else ``text``; a payload of another type raises TypeError."""
    data = message.get("bytes")
    if data is None:
        data = message.get("text")
        if type(data) is str or isinstance(data, str):
            return True, data
        if data is None:
            raise RuntimeError("a websocket.send message needs 'bytes' or 'text'")
        raise TypeError(f"websocket.send 'text' must be str, not {type(data).__name__}")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return False, data
    raise TypeError(f"websocket.send 'bytes' must be bytes, not {type(data).__name__}")


def close_code(message):
    """(code, reason) of a ``websocket.close`` message; a code that may not be sent
    (RFC 6455 7.4: 1000-1003, 1007-1014, 3000-4999) or a reason that is not a str (or
    not encodable as UTF-8) raises ValueError or TypeError (UnicodeEncodeError)."""
    code = message.get("code")
    if code is None:
        code = 1000
    reason = message.get("reason") or ""
    if type(code) is not int:  # an IntEnum member is its number (as uvicorn sends it); a bool is no code
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError(f"websocket.close 'code' must be int, not {type(code).__name__}")
        code = int(code)
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(f"Invalid WebSocket close code {code!r}.")
    if not isinstance(reason, str):
        raise TypeError(f"websocket.close 'reason' must be str, not {type(reason).__name__}")
    if not reason.isascii():
        reason.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError here, the connection still open
    return code, reason
