"""The client and the scheme a trusted proxy names in ``X-Forwarded-For`` and
``X-Forwarded-Proto`` (the headers gunicorn and uvicorn read), for WSGI and ASGI alike.

Rules:
- These headers count only when the connection's peer is a trusted proxy; the caller
  decides that, from the socket (a TCP peer whose address is unknown is never trusted).
- ``X-Forwarded-For``: each proxy appends the address of the peer it saw, so the hops
  are read from the nearest (rightmost) outwards: a hop that is itself a trusted proxy
  is passed over, the first that is not is the client. What lies left of it was written
  by the client and may be anything. Repeated fields count as one list, in order.
- A hop is an IP address, with an optional port (``10.0.0.5:1234``, ``[::1]:443``)
  that is dropped; the address is spelled as ``getpeername()`` spells it (an IPv6
  one by ``inet_ntop``: ``::ffff:10.0.0.1``, as nginx's realip gives it, never
  ``ipaddress``'s ``::ffff:a00:1``). An IPv6 address with a zone (``fe80::1%eth0``, as
  a proxy on the client's link writes it; uvicorn and gunicorn take it as is) is that
  address, the zone dropped: a client is shown as a peer's own link-local address is,
  without its zone (net/zones.py's ``unzoned``: WSGI ``REMOTE_ADDR``, the ASGI scope's
  ``client``, the access log's ``{h}``), and the zone's text reaches no one. A zone is an
  interface's name or index (RFC 6874's characters: letters, digits, ``-._~``). A hop
  that is not an address (``unknown``, an obfuscated name, garbage, an IPv4 address
  with a zone, a zone of other text) gives no client: the peer's own address stays.
- ``X-Forwarded-Proto``: the nearest (last) value, when it is http, https, ws or wss.
- RFC 7239's ``Forwarded`` is not read (a client could send one past a proxy that
  writes only ``X-Forwarded-For``).
- No I/O, no state.
"""

import ipaddress
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton

PROTOS = frozenset(("http", "https", "ws", "wss"))
_ZONE_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"  # RFC 6874's ZoneID


def hop_address(text):
    """The IP address of one ``X-Forwarded-For`` hop as text (port and brackets
    dropped), or None when the hop is not an address."""
    text = text.strip(" \t")
    if text.startswith("["):
        text, bracket, _ = text[1:].partition("]")
        if not bracket:
            return None
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if "%" in text:  # an IPv6 zone: meaningless off its host (dropped), and ipaddress takes any text as one
        text, _, zone = text.partition("%")
        if not zone or zone.strip(_ZONE_CHARACTERS) or ":" not in text:
            return None
    family = AF_INET6 if ":" in text else AF_INET
    try:  # (inet_pton, not ipaddress's parser: a forged chain of trusted hops asks one per hop)
        return inet_ntop(family, inet_pton(family, text))
    except (OSError, ValueError):
        pass
    try:  # a spelling inet_pton does not read, if ipaddress does
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6:  # getpeername()'s spelling (inet_ntop's): ::ffff:10.0.0.1, not ::ffff:a00:1
        return inet_ntop(AF_INET6, address.packed)
    return str(address)


def forwarded_client(value, is_proxy):
    """The client address ``X-Forwarded-For`` ``value`` names, given ``is_proxy(address)``
    for trusted proxies; None when it names none usable."""
    hops = value.split(",")
    trusted = set()  # hops already found to be trusted proxies: a repeated one is not parsed again
    for hop in reversed(hops):
        if hop in trusted:
            continue
        address = hop_address(hop)
        if address is None:
            return None
        if not is_proxy(address):
            return address
        trusted.add(hop)
    return hop_address(hops[0])  # every hop is a trusted proxy: the farthest one


def forwarded_proto(value):
    """The scheme ``X-Forwarded-Proto`` ``value`` names (lower case), or None."""
    proto = value.rpartition(",")[2].strip(" \t").lower()
    return proto if proto in PROTOS else None
