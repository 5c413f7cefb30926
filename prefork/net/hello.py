"""A ClientHello's ALPN offer and SNI host name, read before OpenSSL answers the hello
(net/tls.py).

Rules:
- Python's ``ssl`` would go on without ALPN when a client offers only protocols the
  server does not speak (``h2`` alone); Node and nginx refuse such a hello. To refuse it
  as they do, the layer reads the offer itself first, as OpenSSL reads the hello: a hello
  cut in several records is put together, empty handshake and change_cipher_spec
  records are skipped (32 in all at most), and after a HelloRetryRequest the second
  hello may follow a one-byte change_cipher_spec record (RFC 8446 D.4).
- Bounded: what is kept is one record and the hello so far, each within ``_HELLO_MAX``;
  a longer hello, or anything that does not read as a ClientHello, is left to OpenSSL
  to judge as soon as it shows (a record of another major version than 3, a handshake
  message of another type, a hello whose header says it is longer): OpenSSL refuses
  the first two, and a length past its own bound, at once, where waiting for the rest
  held the client until its handshake timeout. Each byte fed is looked at once, however
  the hello is cut into reads.
- The SNI host name (``servername``) is read here too, not by an ``sni_callback``: CPython
  decodes the name as ASCII before it calls one, so a name with a byte of 0x80 or above
  (raw UTF-8) failed the handshake with internal_error and printed "Exception ignored" for
  every such connection. The name is read as OpenSSL reads it (a list of exactly one
  host_name entry that fills the extension; anything else OpenSSL refuses) and decoded as
  latin-1, as Node decodes it: case and a trailing dot are kept. Every length is checked
  against what holds it; a name that does not read is no name (False), never an error.
- Sans I/O: bytes in, an answer out.
"""

_HELLO_MAX = 16 * 1024  # a longer ClientHello (real ones are a few hundred bytes) is left to OpenSSL
_EMPTY_MAX = 32  # empty records OpenSSL takes in a row (the reader: in all, within one hello)


def offered_alpn(data):
    """The ALPN protocols (bytes) of the ClientHello that ``data`` starts with, () when it
    offers none; None while it is not all there; False for what this does not read as a
    ClientHello (OpenSSL judges it). A hello cut in several records is put together; empty
    handshake and change_cipher_spec records are skipped, as OpenSSL skips them."""
    return HelloReader().feed(data)


def offered_servername(data):
    """The SNI host name (str, the bytes as latin-1) of the ClientHello that ``data``
    starts with, False when it sends none (or what it sends does not read); None while
    the hello is not all there."""
    reader = HelloReader()
    return None if reader.feed(data) is None else reader.servername


class HelloReader:
    """``offered_alpn`` for bytes that come a read at a time: each byte is looked at once,
    however many records and reads the hello is cut into (read whole again at each read,
    a hello in 1-byte records trickled in cost the loop seconds), and what is kept is one
    record and the hello so far, both within ``_HELLO_MAX``. Once the hello is whole,
    ``rest`` holds the bytes fed after its last record (what OpenSSL must not see before
    the offer is judged), and ``servername`` its SNI host name (``offered_servername``).
    ``retry``: the reader of the second ClientHello, after a HelloRetryRequest, which may
    follow a change_cipher_spec record (RFC 8446 D.4)."""

    __slots__ = ("record", "message", "rest", "retry", "empty", "servername")

    def __init__(self, retry=False):
        self.record = bytearray()  # bytes of records not whole yet
        self.message = bytearray()  # the handshake message from the whole records
        self.rest = b""
        self.retry = retry
        self.empty = 0  # empty records skipped
        self.servername = False  # the SNI host name, once the hello is whole

    def feed(self, data):
        """``offered_alpn`` of all the bytes fed so far."""
        record, message = self.record, self.message
        record += data
        at = 0
        while len(message) < 4 or len(message) < 4 + int.from_bytes(message[1:4], "big"):
            if message and (message[0] != 1 or len(message) >= 4 and
                            4 + int.from_bytes(message[1:4], "big") > _HELLO_MAX):
                return False  # not a ClientHello, or one said to be longer than kept: OpenSSL's
            if len(record) < at + 5:
                del record[:at]
                return None
            kind, size = record[at], int.from_bytes(record[at + 3:at + 5], "big")
            # skipped: empty records, as OpenSSL skips 32 in a row (past 32 in all, OpenSSL
            # judges them: what is held stays small), and after a HelloRetryRequest the
            # one-byte change_cipher_spec
            skip = kind in (20, 22) and not size or kind == 20 and size == 1 and self.retry
            if not size:
                self.empty += 1
            if record[at + 1] != 3 or not skip and (kind != 22 or len(message) + size > _HELLO_MAX) \
                    or self.empty > _EMPTY_MAX:
                return False  # (the bound first: what is kept stays small)
            if len(record) < at + 5 + size:
                del record[:at]
                return None
            if not skip:
                message += record[at + 5:at + 5 + size]
            at += 5 + size
        self.rest = bytes(record[at:])
        offered, self.servername = _extensions_of(message)
        return offered


def _extensions_of(message):
    """(ALPN offer, SNI host name) of a whole handshake message (module ``offered_alpn``,
    ``offered_servername``)."""
    if message[0] != 1:
        return False, False
    offered = name = None
    try:  # version and random, session id, cipher suites, compression methods, extensions
        at = 39 + message[38]
        at += 2 + int.from_bytes(message[at:at + 2], "big")
        at += 1 + message[at]
        end = at + 2 + int.from_bytes(message[at:at + 2], "big")
        at += 2
        while at + 4 <= end and (offered is None or name is None):
            kind, size = message[at:at + 2], int.from_bytes(message[at + 2:at + 4], "big")
            if kind == b"\x00\x10" and offered is None:  # application_layer_protocol_negotiation
                names, item, last = [], at + 6, at + 4 + size
                while item < last:
                    names.append(bytes(message[item + 1:item + 1 + message[item]]))
                    item += 1 + message[item]
                offered = tuple(names)
            elif kind == b"\x00\x00" and name is None and at + 4 + size <= min(end, len(message)):
                name = _host_name(message[at + 4:at + 4 + size])
            at += 4 + size
    except IndexError:
        if offered is None:
            return False, name or False
    return (() if offered is None else offered), name or False


def _host_name(body):
    """The name of a server_name extension's ``body`` (RFC 6066 3) as OpenSSL takes it: a
    list that fills the body and holds one host_name entry that fills the list; else
    False (OpenSSL refuses the hello). An empty name is none."""
    if len(body) < 5 or int.from_bytes(body[0:2], "big") != len(body) - 2 or body[2] != 0:
        return False
    if int.from_bytes(body[3:5], "big") != len(body) - 5:
        return False
    return bytes(body[5:]).decode("latin-1") or False
