"""The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer sends
first on each connection, naming the client it accepted.

Rules:
- ``HeaderParser`` has no I/O. ``feed(data)`` takes bytes that may run past the header
  (a peek at the kernel's buffer) and returns how many of them belong to the header;
  the caller consumes exactly those. So nothing after the header is ever read here: the
  request, or a TLS handshake, stays in the kernel for whatever comes next.
- The first byte decides the version (``P``: the v1 text line, ``\\r``: the v2 binary
  signature); any byte that cannot start or continue a header is an error at once, so a
  client speaking HTTP straight to a PROXY listener is refused at its first byte.
- v1: one line of at most 107 bytes ending in CRLF: ``PROXY TCP4|TCP6 SRC DST SPORT
  DPORT`` (addresses checked for their family, ports 0-65535 without leading zeros), or
  ``PROXY UNKNOWN`` followed by anything. Its addresses are handed on in their canonical
  spelling (as ``getpeername()`` and a v2 header give them), never as the balancer wrote them.
- v2: 16 fixed bytes (signature, version 2, command LOCAL or PROXY, family and
  transport, length), then the addresses (AF_INET 12 bytes, AF_INET6 36, AF_UNIX 216),
  then TLVs, checked as HAProxy checks them (net/proxy_tlv.py: a truncated TLV, a
  CRC32c that does not match, refuse the header), else skipped. The length is at most
  65535, so the header is bounded.
  A PROXY command's family and transport byte is one of the seven the specification
  defines (anything else is refused); a LOCAL command's is ignored, with its whole
  address block, as the specification asks. A DGRAM (UDP) transport names no client of
  a TCP connection: its addresses are read past, and the connection's own stand, as
  HAProxy and nginx ("only STREAM is supported") keep them.
- A header's ``peer`` is the client's (family, address, port) to use instead of the
  connection's, or None where the connection's own endpoints stand (v2 LOCAL, as a
  balancer's health check sends; v1 UNKNOWN; v2 UNSPEC; a v2 DGRAM transport; AF_UNIX
  clients).
- ``HeaderReader`` is the step on an accepted socket: peek, parse, consume what the
  parser took, until the header is whole, within ``timeout`` seconds. It reads once at
  once (a balancer sends the header with its connection); only a header that is not
  all there yet costs a reader registration and a timer; when it runs out, what came
  is read first (a loop that was busy may not have read it). A header part-way on a
  loop whose reader stops for good at a reset (uvloop's, net/resets.py) asks for the
  socket's pending error: a reset ends it as ``closed`` at once, as on other loops,
  not at the timeout. Peers outside the trusted sources are refused before a byte is
  read. It stands in the server's set of connections until it ends
  (``done(reader, header, reason)``, called once: header or a failure reason, or
  neither when the server destroyed it). A refusal other than ``closed`` is logged
  (a warning naming the peer and why), at most once per ``LOG_EVERY`` seconds per
  reason, so a flood of them costs a counter, not the log.
"""

import ipaddress
import logging
import socket as _socket

from .proxy_tlv import check_tlvs
from .throttle import Throttle
from .resets import stops_at_reset

V1_PREFIX = b"PROXY "
V1_MAX = 107  # the longest v1 line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = 16
_V2_ADDRESS_SIZES = {1: 12, 2: 36, 3: 216}  # AF_INET, AF_INET6, AF_UNIX
# a PROXY command's family and transport byte: UNSPEC, or INET/INET6/UNIX over STREAM or
# DGRAM; the specification has receivers refuse every other value (0x10 among them)
_V2_FAMILY_BYTES = frozenset((0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32))
_V2_FAMILIES = {0: None, 1: "IPv4", 2: "IPv6", 3: "unix"}
_PEEK = _socket.MSG_PEEK

# failure reasons, as counted in prefork_proxy_protocol_errors_total{reason}
INVALID, TIMEOUT, UNTRUSTED, CLOSED = "invalid", "timeout", "untrusted", "closed"
LOG_EVERY = 10.0  # seconds between two log lines of one refusal reason, per worker
_told = Throttle(LOG_EVERY)  # the lines by refusal reason
log = logging.getLogger("prefork.server")


def tell_refusal(reason, peer, detail):
    """Log a refused header (not ``closed``: a balancer's TCP health check connects and
    closes) as nginx logs its "broken header", at most once per ``LOG_EVERY`` seconds
    per reason; a line tells how many were not logged since the one before it."""
    more = _told.suffix(reason)
    if more is None:
        return
    log.warning("PROXY protocol header refused (%s) from %s: %s%s", reason, peer, detail, more)


class ProxyProtocolError(ValueError):
    """Bytes that are not a PROXY protocol header."""


class ProxyHeader:
    __slots__ = ("version", "command", "family", "source_address", "source_port",
                 "destination_address", "destination_port")

    def __init__(self, version, command, family=None, source_address=None, source_port=None,
                 destination_address=None, destination_port=None):
        self.version = version
        self.command = command  # "PROXY" or "LOCAL" (v1 UNKNOWN is a PROXY with no family)
        self.family = family  # "IPv4", "IPv6", "unix" or None
        self.source_address = source_address
        self.source_port = source_port
        self.destination_address = destination_address
        self.destination_port = destination_port

    @property
    def peer(self):
        """(family, address, port) of the client, or None: keep the connection's own."""
        if self.command != "PROXY" or self.family not in ("IPv4", "IPv6"):
            return None
        return self.family, self.source_address, self.source_port

    def __repr__(self):
        return (f"ProxyHeader(v{self.version} {self.command} {self.family} "
                f"{self.source_address}:{self.source_port} -> {self.destination_address}:{self.destination_port})")


class HeaderParser:
    def __init__(self):
        self.buffer = bytearray()
        self.version = None
        self.length = None  # v2: the bytes after the fixed part
        self.header = None

    @property
    def wanted(self):
        """How many bytes to peek for the next feed: as many as the header may still
        need (a v1 line's limit until the v2 length is known), so that a header which
        is all there is read in one go."""
        if self.length is not None:
            return V2_FIXED + self.length - len(self.buffer)
        return V1_MAX - len(self.buffer)

    def feed(self, data):
        """How many bytes of ``data`` belong to the header (all of them while it is not
        whole); ``header`` is set once it is. Raises ProxyProtocolError."""
        if self.header is not None or not data:
            return 0
        buf = self.buffer
        if self.version is None:
            first = data[:1]
            if first == b"P":
                self.version = 1
            elif first == b"\r":
                self.version = 2
            else:
                raise ProxyProtocolError(f"not a PROXY protocol header (starts with {bytes(data[:8])!r})")
        if self.version == 1:
            return self._feed_v1(buf, data)
        return self._feed_v2(buf, data)

    def _feed_v1(self, buf, data):
        end = data.find(b"\n")
        take = len(data) if end < 0 else end + 1
        if len(buf) + take > V1_MAX or (end < 0 and len(buf) + take == V1_MAX):
            raise ProxyProtocolError(f"v1 header longer than {V1_MAX} bytes")
        buf += data[:take]
        if buf[:len(V1_PREFIX)] != V1_PREFIX[:len(buf)]:
            raise ProxyProtocolError(f"bad v1 header start {bytes(buf[:6])!r}")
        if end >= 0:
            self.header = parse_v1(bytes(buf))
        return take

    def _feed_v2(self, buf, data):
        used = 0
        if len(buf) < V2_FIXED:
            used = min(V2_FIXED - len(buf), len(data))
            buf += data[:used]
            if buf[:12] != V2_SIGNATURE[:len(buf)]:
                raise ProxyProtocolError("bad v2 signature")
            if len(buf) < V2_FIXED:
                return used
            self.length = _check_v2_fixed(buf)
        rest = min(V2_FIXED + self.length - len(buf), len(data) - used)
        buf += data[used:used + rest]
        used += rest
        if len(buf) == V2_FIXED + self.length:
            self.header = parse_v2(bytes(buf))
        return used


def _port(text):
    if not text.isdigit() or len(text) > 5 or (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise ProxyProtocolError(f"bad v1 port {text!r}")
    return int(text)


def parse_v1(line):
    """A whole v1 line (CRLF included) → ProxyHeader."""
    if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
        raise ProxyProtocolError("v1 header does not end in CRLF")
    try:
        text = line[:-2].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyProtocolError("v1 header is not ASCII") from None
    parts = text.split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return ProxyHeader(1, "PROXY")
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyProtocolError(f"bad v1 header {text[:60]!r}")
    family, af = ("IPv4", _socket.AF_INET) if parts[1] == "TCP4" else ("IPv6", _socket.AF_INET6)
    addresses = []
    for address in parts[2:4]:
        try:  # spelled as getpeername() and a v2 header spell it: 2001:DB8:0:0:0:0:0:1 is 2001:db8::1
            addresses.append(_socket.inet_ntop(af, _socket.inet_pton(af, address)))
        except (OSError, ValueError):
            raise ProxyProtocolError(f"bad v1 {family} address {address!r}") from None
    return ProxyHeader(1, "PROXY", family, addresses[0], _port(parts[4]), addresses[1], _port(parts[5]))


def _check_v2_fixed(fixed):
    version, command = fixed[12] >> 4, fixed[12] & 0x0F
    if version != 2:
        raise ProxyProtocolError(f"bad v2 version {version}")
    if command > 1:
        raise ProxyProtocolError(f"bad v2 command {command}")
    length = int.from_bytes(fixed[14:16], "big")
    if command == 0:
        return length  # LOCAL: the address block, its family byte included, is ignored
    family = fixed[13] >> 4
    if fixed[13] not in _V2_FAMILY_BYTES:
        raise ProxyProtocolError(f"bad v2 family/transport byte {fixed[13]:#04x}")
    if length < _V2_ADDRESS_SIZES.get(family, 0):
        raise ProxyProtocolError(f"v2 length {length} too short for its addresses")
    return length


def parse_v2(data):
    """A whole v2 header (fixed part, addresses, TLVs) → ProxyHeader."""
    if len(data) < V2_FIXED or data[:12] != V2_SIGNATURE:
        raise ProxyProtocolError("bad v2 signature")
    length = _check_v2_fixed(data)
    if len(data) != V2_FIXED + length:
        raise ProxyProtocolError("v2 header length mismatch")
    if data[12] & 0x0F == 0:
        return ProxyHeader(2, "LOCAL")
    family = _V2_FAMILIES[data[13] >> 4]
    if family is not None and len(data) > V2_FIXED + _V2_ADDRESS_SIZES[data[13] >> 4]:
        refused = check_tlvs(data, V2_FIXED + _V2_ADDRESS_SIZES[data[13] >> 4])
        if refused is not None:
            raise ProxyProtocolError(refused)
    if data[13] & 0x0F != 1:  # DGRAM: not this connection's client (module rules)
        return ProxyHeader(2, "PROXY")
    body = data[V2_FIXED:]
    if family == "IPv4":
        return ProxyHeader(2, "PROXY", family, _socket.inet_ntop(_socket.AF_INET, body[0:4]),
                           int.from_bytes(body[8:10], "big"),
                           _socket.inet_ntop(_socket.AF_INET, body[4:8]), int.from_bytes(body[10:12], "big"))
    if family == "IPv6":
        return ProxyHeader(2, "PROXY", family, _socket.inet_ntop(_socket.AF_INET6, body[0:16]),
                           int.from_bytes(body[32:34], "big"),
                           _socket.inet_ntop(_socket.AF_INET6, body[16:32]), int.from_bytes(body[34:36], "big"))
    if family == "unix":
        source = body[0:108].split(b"\0", 1)[0].decode("utf-8", "replace")
        destination = body[108:216].split(b"\0", 1)[0].decode("utf-8", "replace")
        return ProxyHeader(2, "PROXY", family, source, None, destination, None)
    return ProxyHeader(2, "PROXY")


def parse(data):
    """(ProxyHeader, bytes used) from ``data`` holding a whole header (and maybe more);
    raises ProxyProtocolError, also when the header is not whole."""
    parser = HeaderParser()
    used = parser.feed(data)
    if parser.header is None:
        raise ProxyProtocolError("truncated header")
    return parser.header, used


# -- trusted sources ------------------------------------------------------------------------
class TrustedSources:
    """Which peers may send a header: IP addresses, networks, "unix" (UNIX-socket
    peers), or "*" (every peer). An IPv4 peer matches its address written either way,
    ``10.0.0.1`` or ``::ffff:10.0.0.1``, whichever listener it reached. A bad entry raises ValueError (settings.py checks them
    before a worker sees them)."""

    def __init__(self, entries):
        self.everyone = "*" in entries
        self.unix = "unix" in entries
        self.networks = [_unmapped(ipaddress.ip_network(e, strict=False)) for e in entries if e not in ("*", "unix")]
        # single addresses, as getpeername() spells them: a set lookup, no parsing
        self.addresses = frozenset(str(n.network_address) for n in self.networks
                                   if n.num_addresses == 1)
        # the networks as (address, mask) integers by packed length (4: IPv4, 16: IPv6): an
        # address is read with inet_pton, not ipaddress's parser, which costs some fifty
        # calls (a forged X-Forwarded-For chain of trusted hops asks one per hop)
        self.ranges = {4: [], 16: []}
        for n in self.networks:
            self.ranges[n.max_prefixlen // 8].append((int(n.network_address), int(n.netmask)))

    def allows_socket(self, socket):
        """The peer of a connection's ``socket`` (a Socket): the one at the TCP
        connection's other end, the balancer when a PROXY header named the client (as
        gunicorn and nginx's realip judge it); a UNIX-socket peer counts as "unix"; a TCP
        peer whose address could not be read (gone before the worker took it) is never
        trusted."""
        proxied = socket.proxy_peer
        family, address = (socket.remote_family, socket.remote_address) if proxied is None else proxied
        if address:
            return self.allows((address, 0))
        return family is None and self.allows("")

    def allows(self, peer):
        """``peer`` as getpeername() returns it."""
        if self.everyone:
            return True
        if not isinstance(peer, tuple):
            return self.unix
        if peer[0] in self.addresses:
            return True
        text = peer[0].split("%", 1)[0]
        try:
            packed = _socket.inet_pton(_socket.AF_INET6 if ":" in text else _socket.AF_INET, text)
        except (OSError, ValueError):  # (not a spelling inet_pton reads: ipaddress's)
            packed = ipaddress.ip_address(text).packed
        if packed[:12] == _V4_MAPPED:  # ::ffff:10.0.0.1 is 10.0.0.1
            packed = packed[12:]
        value = int.from_bytes(packed, "big")
        return any(value & mask == network for network, mask in self.ranges[len(packed)])


_V4_MAPPED = bytes(10) + b"\xff\xff"


def _unmapped(network):
    """An IPv4-mapped IPv6 network (``::ffff:10.0.0.1``, the spelling a dual-stack
    listener gives an IPv4 peer) as the IPv4 network it stands for: peers are compared
    in IPv4, mapped or not."""
    if network.version == 6 and network.prefixlen >= 96 and network.network_address.ipv4_mapped is not None:
        return ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
    return network


# -- the step on an accepted socket ----------------------------------------------------------
class HeaderReader:
    """Reads a PROXY header off ``sock`` (accepted, not yet a connection) on ``loop``.

    For the server it has a connection's surface while it waits: never ``active`` (no
    HTTP message yet, so no head deadline), ``idle``, ``drain()`` lets it finish (its own
    timeout bounds it), ``socket.destroy()`` and ``socket.close_fd()``, and for the
    server's sweep ``socket.reads_stop_at_reset`` false (its own timeout bounds it too,
    whatever the loop's reader does at a reset)."""

    active = False
    idle = True
    reads_stop_at_reset = False

    def __init__(self, loop, sock, timeout, trusted, done):
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.timeout = timeout
        self.trusted = trusted
        self.done = done
        self.parser = HeaderParser()
        self.timer = None
        self.ended = False
        self.peer = None  # getpeername()'s, once started
        self.stops_at_reset = stops_at_reset(type(loop))  # uvloop's reader: once, then never again

    @property
    def socket(self):
        return self

    def start(self):
        sock = self.sock
        try:
            sock.setblocking(False)
            peer = self.peer = sock.getpeername()
        except OSError:
            self.fail(CLOSED)
            return
        if not self.trusted.allows(peer):
            self.fail(UNTRUSTED, "not in proxy_allow_ips")
            return
        self.on_readable()  # balancers send the header at once: it is usually here already
        if not self.ended:
            self.timer = self.loop.call_later(self.timeout, self.expired)
            self.loop.add_reader(self.fd, self.on_readable)

    def on_readable(self):
        parser = self.parser
        try:
            data = self.sock.recv(parser.wanted, _PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.fail(CLOSED)
            return
        if not data:
            self.fail(CLOSED)
            return
        try:
            used = parser.feed(data)
            while used:  # consume exactly the header's bytes, already in the kernel
                taken = len(self.sock.recv(used))
                if not taken:
                    raise ConnectionError("peeked bytes vanished")
                used -= taken
        except ProxyProtocolError as exc:
            self.fail(INVALID, str(exc))
            return
        except OSError:
            self.fail(CLOSED)
            return
        if parser.header is not None:
            self.end(parser.header, None)
        elif self.stops_at_reset and self.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR):
            self.fail(CLOSED)  # (that read was the reader's last: a reset came with the bytes)

    def expired(self):
        """The header's time is up: what the peer sent is read first (a loop that was busy
        may not have read it yet), then a header still incomplete is a timeout."""
        self.on_readable()  # (a header whole now ends it: the spent timer's cancel is a no-op)
        if not self.ended:
            self.fail(TIMEOUT, f"no whole header in {self.timeout:g} s ({len(self.parser.buffer)} bytes of one came)")

    def drain(self):
        """The server drains: the header still comes first (bounded by the timeout)."""

    def fail(self, reason, detail=None):
        if detail is not None and not self.ended:
            peer = self.peer
            where = "a UNIX socket" if not isinstance(peer, tuple) else (
                f"[{peer[0]}]:{peer[1]}" if ":" in peer[0] else f"{peer[0]}:{peer[1]}")
            tell_refusal(reason, where, detail)
        self.end(None, reason)
        self.sock.close()

    def end(self, header, reason):
        if self.ended:
            return
        self.ended = True
        timer = self.timer
        if timer is not None:  # armed together with the reader
            self.timer = None
            timer.cancel()
            self.loop.remove_reader(self.fd)
        self.done(self, header, reason)

    def destroy(self, error=None):
        """The server closes it (close_all_connections, close_idle_connections)."""
        self.end(None, None)
        self.sock.close()

    def close_fd(self):
        self.sock.close()
