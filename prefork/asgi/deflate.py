"""permessage-deflate (RFC 7692) with the received message size bounded while inflating.

Rules:
- wsproto's extension inflates whatever a frame carries in one call, so a small
  compressed frame could become gigabytes before any size check. Here compressed
  payload goes to it in pieces of ``_PIECE`` bytes (deflate inflates at most ~1032:1,
  so one piece gives at most about a mebibyte), and the inflated bytes of a message are
  counted as they come: past ``max_size`` the frame is refused with 1009 (wsproto
  closes with that code).
- A message is compressed when its first frame has RSV1; its continuation frames count
  towards the same total. Control frames (between fragments, or after the message)
  are never counted: a ping after a message at the limit is not a message past it.
  Nor do they reach wsproto's extension, which would end the compressed message at a
  control frame's end: the fragments after a ping or pong would then pass uninflated
  (RFC 7692 6.2: a message's fragments are one compressed stream).
- An offer the server must decline (RFC 7692 5) is declined: an unknown parameter, one
  given twice, a value where none belongs, ``server_max_window_bits`` without one,
  window bits that are not 8 to 15 written without leading zeros (7.1.2.1: ``08`` and
  ``010`` are invalid values, as ``+9`` is). The server then answers without the extension:
  the client's mistake is not the app's. A value in quotes (RFC 6455 9.1) is read as
  the value, its backslash escapes read (``"1\\5"`` is 15): what it says must then be
  one of those values (a lone backslash, a leading zero, anything else is declined).
- ``client_max_window_bits=8`` (RFC 7692 allows 8 to 15; wsproto's setter refuses
  8) is accepted and answered with 8 (RFC 7692 7.1.2.2: a value at most the offered
  one); the client's messages inflate with a window of 2**9, which reads a stream
  made with 2**8 (and zlib's, which makes 9 of an 8). ``server_max_window_bits=8``
  is declined: zlib cannot compress a raw stream with that window.
- A message may end with a final DEFLATE block (BFINAL set, RFC 7692 7.2.3.4), and
  bytes may follow one inside a message: each inflater (``_Inflater``) starts a new
  stream, at the byte after the final block, with the window of what came before
  (unless the client takes no context over), so the rest of the message and the next
  messages inflate (that window is kept for it: at most 2**bits bytes between
  messages, as zlib's own window). A message that ends with the final block, or with the header
  byte of an empty stored block after it, ends there: the 0x00 0x00 0xff 0xff of RFC
  7692 7.2.2 starts nothing. A message holds at most ``_STREAMS`` streams: each one
  past a final block copies the window anew (2**bits bytes), so a message of millions of
  empty final blocks would cost seconds of CPU for a few MiB received; past it the
  message is refused as invalid (1007), as a stream zlib cannot read is.
- Of several offers (alternatives in the client's order of preference, RFC 7692 5)
  the first acceptable one is taken, read on its own: what an earlier, declined
  offer named and what a later one asks for are not mixed in, so the session inflates
  and deflates as the answer says.
- Only the extension's public hooks are used; sending is wsproto's unchanged, but for
  the server's compressor: a window of at most ``_SEND_WINDOW_BITS`` and zlib's memory
  level ``_SEND_MEMORY_LEVEL`` (about 20 KiB a connection instead of ~260 KiB: a
  thousand open sessions would hold a quarter of a gigabyte), as uvicorn's default
  WebSocket stack compresses. A smaller window than the one negotiated is always
  readable by the client (RFC 7692 7.1.2.1).
- ``release()`` (the session is over) drops the compressor and decompressor at once:
  a session that ends without the client's close frame leaves wsproto's frame parser
  suspended, in a reference cycle with its protocol and this extension until the
  cycle collector runs.
"""

import re
import zlib

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits

_PIECE = 1024
_STREAMS = 4096  # DEFLATE streams in one message, at most (module rules)
_SEND_WINDOW_BITS = 12  # the server compressor's window, at most (2**12 bytes)
_SEND_MEMORY_LEVEL = 5  # zlib's memLevel for it (its default is 8)


_TRAILER = b"\x00\x00\xff\xff"  # what RFC 7692 7.2.2 appends to a message to inflate it
_ENDS = (_TRAILER, b"\x00" + _TRAILER)  # a message's end after its final block (module rules)

_FLAGS = ("server_no_context_takeover", "client_no_context_takeover")
_BITS = ("server_max_window_bits", "client_max_window_bits")
_WINDOWS = frozenset(str(bits) for bits in range(8, 16))  # their valid values (module rules)
_ESCAPED = re.compile(r"\\(.)", re.S)  # a quoted-pair of RFC 7230 3.2.6 (module rules)


def acceptable(offer):
    """The offer with its values unquoted, or None when RFC 7692 5 says decline it."""
    name, *params = offer.split(";")
    seen = set()
    out = [name.strip()]
    for param in params:
        key, eq, value = param.partition("=")
        key, value = key.strip(), value.strip()
        if key in seen or key not in _FLAGS + _BITS:
            return None
        seen.add(key)
        if key in _FLAGS:
            if eq:
                return None
            out.append(key)
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':  # (a quoted-string: its escapes read)
            value = _ESCAPED.sub(r"\1", value[1:-1])
        if not eq:
            if key == "server_max_window_bits":
                return None
            out.append(key)
            continue
        if value not in _WINDOWS:
            return None
        out.append(f"{key}={value}")
    return "; ".join(out)


class _Inflater:
    """The client's messages inflated as one DEFLATE stream after another (module rules);
    ``decompress`` and ``flush`` as zlib's decompressor, which wsproto calls. ``ending``:
    the next bytes given are the message's 0x00 0x00 0xff 0xff."""

    def __init__(self, bits, takeover):
        self.bits = bits
        self.history = [] if takeover else None  # the last 2**bits inflated bytes, in pieces
        self.held = 0
        self.stream = zlib.decompressobj(-bits)
        self.rest = b""  # the bytes after a final block, for the stream after it
        self.ending = False
        self.streams = 0  # streams begun in the message being received

    def _keep(self, data):
        if self.history is None or not data:
            return
        window = 1 << self.bits
        data = data[-window:]
        self.history.append(data)
        self.held += len(data)
        while self.held - len(self.history[0]) >= window:
            self.held -= len(self.history.pop(0))

    def _next(self):
        window = b"".join(self.history or ())[-(1 << self.bits):]
        return zlib.decompressobj(-self.bits, zdict=window) if window else zlib.decompressobj(-self.bits)

    def decompress(self, data):
        ending, self.ending = self.ending, False
        out = self._inflate(data, ending)
        if ending:
            self.streams = 0
        if ending and self.held > 1 << self.bits:  # the window kept as one piece between messages
            self.history = [b"".join(self.history)[-(1 << self.bits):]]
            self.held = len(self.history[0])
        return out

    def _inflate(self, data, ending):
        out = []
        while True:
            if self.stream is None:  # after a final block
                data, self.rest = self.rest + data, b""
                if not data or ending and data in _ENDS:
                    return b"".join(out)
                self.streams += 1
                if self.streams > _STREAMS:  # (wsproto refuses the message with 1007, as for a bad stream)
                    raise zlib.error(f"more than {_STREAMS} DEFLATE streams in one message")
                self.stream = self._next()
            piece = self.stream.decompress(data)
            self._keep(piece)
            out.append(piece)
            if not self.stream.eof:
                return b"".join(out)
            self.rest, data, self.stream = self.stream.unused_data, b"", None

    def flush(self):
        return self.stream.flush() if self.stream is not None else b""


class BoundedDeflate(PerMessageDeflate):
    def __init__(self, max_size):
        super().__init__()
        self.max_size = max_size
        self.compressed = False  # the message being received is compressed
        self.inflated = 0  # its bytes so far
        self.counting = False  # the frame being received is part of that compressed message
        self.control = False  # the frame being received is a control frame

    def accept(self, offer):
        if self.enabled():
            return None  # an offer is taken already: the later ones are its alternatives
        offer = acceptable(offer)
        if offer is None:
            return None
        # each offer is read from the defaults: wsproto keeps what it parses of an offer
        # (its flags, its window bits) even when it declines it
        self.client_no_context_takeover = self.server_no_context_takeover = False
        self.client_max_window_bits = self.DEFAULT_CLIENT_MAX_WINDOW_BITS
        self.server_max_window_bits = self.DEFAULT_SERVER_MAX_WINDOW_BITS
        narrow = "client_max_window_bits=8" in offer.split("; ")  # (module rules)
        if narrow:
            offer = offer.replace("client_max_window_bits=8", "client_max_window_bits=9")
        try:
            answer = super().accept(offer)
        except ValueError:  # client_max_window_bits=abc and the like
            return None
        if narrow and isinstance(answer, str):
            answer = answer.replace("client_max_window_bits=9", "client_max_window_bits=8")
        return answer

    def release(self):
        """The session is over: its compression state (a few hundred KiB of zlib's) goes
        now, whatever still refers to the extension."""
        self._compressor = self._decompressor = None

    def frame_outbound(self, proto, opcode, rsv, data, fin):
        if self._compressor is None and (opcode is Opcode.TEXT or opcode is Opcode.BINARY):
            # (wsproto makes it with zlib's defaults: see the module rules)
            bits = min(int(self.client_max_window_bits if proto.client else self.server_max_window_bits),
                       _SEND_WINDOW_BITS)
            self._compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits,
                                                _SEND_MEMORY_LEVEL)
        return super().frame_outbound(proto, opcode, rsv, data, fin)

    def frame_inbound_header(self, proto, opcode, rsv, payload_length):
        self.control = opcode.iscontrol()
        if self.control:  # never compressed (RSV1 on one is a protocol error), never inflated
            return CloseReason.PROTOCOL_ERROR if rsv.rsv1 else RsvBits(False, False, False)
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self.compressed = bool(rsv.rsv1)
            self.inflated = 0
            if self.compressed and self._decompressor is None and not proto.client:
                # (made before wsproto would make a plain zlib one)
                self._decompressor = _Inflater(int(self.client_max_window_bits), not self.client_no_context_takeover)
        self.counting = self.compressed
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_payload_data(self, proto, data):
        if self.control:
            return data
        if not self.counting:
            return super().frame_inbound_payload_data(proto, data)
        pieces = []
        for start in range(0, len(data), _PIECE):
            piece = super().frame_inbound_payload_data(proto, data[start:start + _PIECE])
            if isinstance(piece, CloseReason):
                return piece
            self.inflated += len(piece)
            if self.inflated > self.max_size:
                return CloseReason.MESSAGE_TOO_BIG
            pieces.append(piece)
        return b"".join(pieces)

    def frame_inbound_complete(self, proto, fin):
        if self.control:
            return None
        if fin and self.counting and isinstance(self._decompressor, _Inflater):
            self._decompressor.ending = True  # wsproto's next call gives the trailer
        result = super().frame_inbound_complete(proto, fin)
        if self.counting and isinstance(result, bytes):
            self.inflated += len(result)
            if self.inflated > self.max_size:
                return CloseReason.MESSAGE_TOO_BIG
        return result
