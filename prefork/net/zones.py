"""A link-local IPv6 address's zone (its interface: the only addresses with a scope id).

Rules:
- A socket names the zone as Node does (``fe80::1%eth0``: ``remote_address``,
  ``local_address``, ``address()``); the WSGI environ and the ASGI scope give the host
  without it, as gunicorn and uvicorn do (``getpeername()``'s host).
"""

import socket as _socket


def zoned_host(sockaddr):
    """The host of an IPv6 socket address with its zone when it has one, as Node spells
    a link-local address (``fe80::1%eth0``; the index when the interface has no name)."""
    if not sockaddr[3:] or not sockaddr[3]:
        return sockaddr[0]
    try:
        return f"{sockaddr[0]}%{_socket.if_indextoname(sockaddr[3])}"
    except OSError:
        return f"{sockaddr[0]}%{sockaddr[3]}"


def unzoned(address):
    """``fe80::1`` of ``fe80::1%eth0`` (the host as ``getpeername()`` gives it, as
    gunicorn and uvicorn show a peer); any other address as it is."""
    return address.partition("%")[0] if "%" in address else address
