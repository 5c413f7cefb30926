"""The parts of an ASGI scope that need work, read from the event server's request
(the adapter builds the scope itself for the common request target).

Rules:
- ``path`` is the request target without its query, percent-decoded as UTF-8 (bytes
  that are not UTF-8 become U+FFFD); ``raw_path`` is the target's path bytes as
  received. Both start with ``root_path`` when one is set (the ASGI spec's reading
  that Starlette and uvicorn follow).
- An absolute-form target (``GET http://host/x``, the scheme in any case) is reduced to
  its path. The ``host`` header stays as the client sent it, as uvicorn keeps it,
  though RFC 9112 3.2.2 has the target's authority take Host's place: ``headers`` are
  what was received (a signature computed over them still checks), and ``server`` is
  the address the connection came in on, for both forms. (The WSGI side takes
  ``SERVER_NAME`` from the target, a field ASGI does not have; its ``HTTP_HOST`` is the
  header as sent, too.)
- ``client`` and ``scheme`` come from ``X-Forwarded-For`` / ``X-Forwarded-Proto`` only
  when the peer is in ``forwarded_allow_ips`` (addresses, networks, ``unix`` for peers
  on a UNIX socket, ``*``), read by http/forwarded.py as the WSGI side reads them; a
  forwarded client's port is 0, and its address is set on the request
  (``req.forwarded_client``: the access log's ``{h}``). They are read from the map of
  every field (``all_headers``), also past ``max_headers_count``'s cut, as the scope's
  ``headers`` hold every line and uvicorn applies them: the proxy's own
  X-Forwarded-For, appended last, is never the one left out.
- A link-local address is given without its zone (``fe80::1``, not the socket's
  ``fe80::1%eth0``) in ``client`` and ``server``, as uvicorn gives it.
- ``server`` is read from the connection's descriptor (``local_end``), not through
  ``socket.address()``, which keeps what it read on the socket: CPython 3.11 keeps at
  most 29 attribute names of a class's instances in its compact layout, and a socket
  given one more gets a dict of its own, every method of it looked up on every request
  then looked up the slow way.
- Nothing here keeps state between requests.
"""

import socket as _socket
from urllib.parse import unquote

from ..http.forwarded import forwarded_client, forwarded_proto
from ..net.zones import unzoned


def split_target(url):
    """(path, raw path bytes, query bytes) of a request target."""
    if url[:1] != "/":
        if url[:8].lower().startswith(("http://", "https://", "ws://", "wss://")):  # any case (RFC 3986)
            rest = url.split("://", 1)[1]
            slash = rest.find("/")
            query_at = rest.find("?")
            if slash < 0 or (0 <= query_at < slash):
                url = "/" + (rest[query_at:] if query_at >= 0 else "")
            else:
                url = rest[slash:]
    raw, _, query = url.partition("?")
    if "%" in raw:
        path = unquote(raw) if raw.isascii() else unquote(raw.encode("latin-1").decode("utf-8", "replace"))
    elif raw.isascii():
        path = raw
    else:
        path = raw.encode("latin-1").decode("utf-8", "replace")
    return path, raw.encode("latin-1"), query.encode("latin-1")


def ends(socket):
    """(server, client) of a connection as the scope names them: (host, port) pairs, a
    UNIX socket's server as (path, None) and its client as None; a link-local host
    without its zone."""
    local = local_end(socket)
    if local is not None:
        server = local
    else:
        path = socket.local_path
        server = (path, None) if path else None  # a UNIX socket's path
    address = socket.remote_address
    return server, ((unzoned(address), socket.remote_port) if address else None)


def local_end(socket):
    """(host, port) of a TCP connection's local address, the host without a zone (None:
    a UNIX socket, or one destroyed, whose descriptor may be another's now), read from
    its descriptor without keeping anything on the socket (module rules)."""
    if socket.destroyed:
        return None
    try:
        raw = _socket.socket(fileno=socket.fileno())  # (its family read from the descriptor)
    except OSError:
        return None
    try:
        name = raw.getsockname()
    except OSError:
        return None
    finally:
        raw.detach()  # (the descriptor stays the socket's)
    return (name[0], name[1]) if isinstance(name, tuple) else None


def client_and_scheme(req, scheme, trusted):
    """(client, scheme) with the proxy headers applied when the peer may set them
    (``trusted``: a net.proxy.TrustedSources)."""
    socket = req.socket
    address = socket.remote_address
    client = (unzoned(address), socket.remote_port) if address else None
    if trusted.allows_socket(socket):
        headers = req.all_headers  # (every field: also past max_headers_count's cut)
        value = headers.get("x-forwarded-proto")
        proto = forwarded_proto(value) if value else None
        if proto is not None:
            secure = proto in ("https", "wss")
            if scheme in ("ws", "wss"):
                scheme = "wss" if secure else "ws"
            else:
                scheme = "https" if secure else "http"
        value = headers.get("x-forwarded-for")
        host = forwarded_client(value, lambda hop: trusted.allows((hop, 0))) if value else None
        if host is not None:
            client = (host, 0)
            req.forwarded_client = host  # the access log's {h}
    return client, scheme
