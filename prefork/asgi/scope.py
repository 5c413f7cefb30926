"""The parts of an ASGI scope that need work, read from the event server's request
(the adapter builds the scope itself for the common request target).

Rules:
- ``path`` is the request target without its query, percent-decoded as UTF-8 (bytes
  that are not UTF-8 become U+FFFD); ``raw_path`` is the target's path bytes as
  received. Both start with ``root_path`` when one is set (the ASGI spec's reading
  that Starlette and uvicorn follow).
- An absolute-form target (``GET http://host/x``) is reduced to its path.
- ``client`` and ``scheme`` come from ``X-Forwarded-For`` / ``X-Forwarded-Proto`` only
  when the peer is in ``forwarded_allow_ips``; the client is the nearest
  address in ``X-Forwarded-For`` that is not itself a trusted proxy.
- Nothing here keeps state between requests.
"""

from urllib.parse import unquote


def split_target(url):
    """(path, raw path bytes, query bytes) of a request target."""
    if url[:1] != "/":
        if url.startswith(("http://", "https://", "ws://", "wss://")):
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


def server_address(socket):
    local = socket.address()
    if isinstance(local, dict):
        return (local.get("address"), local.get("port")) if local else None
    return (local, None) if local else None  # a UNIX socket's path


def client_and_scheme(req, scheme, allowed):
    """(client, scheme) with the proxy headers applied when the peer may set them."""
    socket = req.socket
    address = socket.remote_address
    client = (address, socket.remote_port) if address else None
    if allowed and ((address or "unix") in allowed or "*" in allowed):
        headers = req.headers
        proto = headers.get("x-forwarded-proto")
        if proto:
            proto = proto.split(",")[0].strip().lower()
            if proto in ("http", "https", "ws", "wss"):
                if scheme in ("ws", "wss"):
                    proto = "wss" if proto in ("https", "wss") else "ws"
                elif proto.startswith("ws"):
                    proto = "https" if proto == "wss" else "http"
                scheme = proto
        forwarded_for = headers.get("x-forwarded-for")
        if forwarded_for:
            hosts = [h.strip() for h in forwarded_for.split(",") if h.strip()]
            # the nearest address that is not a trusted proxy is the client
            host = next((h for h in reversed(hosts) if h not in allowed), hosts[0] if hosts else None)
            if host:
                client = (host, 0)
    return client, scheme
