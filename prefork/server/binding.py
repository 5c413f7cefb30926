"""What ``Server.listen`` listens on: Node's rules for a port, the bind, and Node's
fields on a bind that failed.

Rules:
- A port is a whole number (or a string of digits) 0-65535, None for 0; any other
  string is a UNIX socket's path. Anything else is ERR_SOCKET_BAD_PORT (ValueError), or
  ERR_INVALID_ARG_VALUE (TypeError) for a bool or another type, as Node throws.
- A socket bound to an IPv6 address serves IPv4 clients too (``"::"`` is every
  address of both families, as in Node) unless ``ipv6_only``; SO_REUSEADDR is set.
- A failed bind carries Node's ``code`` (EADDRINUSE, EACCES, ENOTFOUND, ...),
  ``syscall``, and the ``address`` and ``port`` asked for.
"""

import errno
import socket as _socket


def check_port(port):
    """Node's rules for a port: a whole number (or a string of digits) 0-65535, None for
    0; any other string is a UNIX socket's path. Else ERR_SOCKET_BAD_PORT (ValueError),
    or ERR_INVALID_ARG_VALUE (TypeError) for a bool or another type."""
    if port is None:
        return 0
    if isinstance(port, str) and not port.isdigit():
        return port
    if isinstance(port, bool) or not isinstance(port, (int, float, str)):
        err = TypeError(f"invalid port: {port!r}")
        err.code = "ERR_INVALID_ARG_VALUE"
        raise err
    if isinstance(port, str) or (isinstance(port, float) and port.is_integer()):
        port = int(port)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        err = ValueError(f"port should be >= 0 and < 65536; received {port!r}")
        err.code = "ERR_SOCKET_BAD_PORT"
        raise err
    return port


def bind(host, port, backlog, ipv6_only=False):
    if isinstance(port, str):  # a path: a UNIX socket (see check_port)
        family, socktype, proto, addr = _socket.AF_UNIX, _socket.SOCK_STREAM, 0, port
    else:
        infos = _socket.getaddrinfo(host, port, type=_socket.SOCK_STREAM, flags=_socket.AI_PASSIVE)
        family, socktype, proto, _, addr = infos[0]
    sock = _socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if family == _socket.AF_INET6:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1 if ipv6_only else 0)
        sock.bind(addr)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def describe_bind_error(exc, host, port):
    """Node's fields on a failed bind: ``code`` (EADDRINUSE, ENOTFOUND, ...), ``syscall``,
    and the ``address`` and ``port`` asked for."""
    if isinstance(exc, _socket.gaierror):
        exc.code = "ENOTFOUND" if exc.errno in (_socket.EAI_NONAME, getattr(_socket, "EAI_NODATA", None)) \
            else next((n for n in dir(_socket) if n.startswith("EAI_") and getattr(_socket, n) == exc.errno),
                      "EAI_FAIL")
        exc.syscall, exc.hostname = "getaddrinfo", host
        return
    exc.code = errno.errorcode.get(exc.errno, "EUNKNOWN")
    exc.syscall = "listen"
    if isinstance(port, str):
        exc.address = port
    else:
        exc.address, exc.port = host, port
