"""What a ``bind`` (or ``metrics_bind``) address may be, checked before the master binds it.

Rules:
- ``check_bind`` raises ValueError with what is wrong (``settings.load`` puts ``SOURCE:KEY: ``
  in front), and with the spelling to use when the address is one gunicorn, uvicorn or nginx
  would take in another form (``tcp://``, a port alone, an IPv6 address without brackets).
- IP literals are parsed, host names resolved now (as the master resolves them at start),
  ports in range, a UNIX socket's directory present and its path within ``sun_path``
  (``UNIX_PATH_MAX`` bytes), an ``fd://N`` descriptor at most ``FD_MAX``.
- ``*`` is no host: glibc resolves it as no name at all, which is the loopback address to a
  bind, where nginx, Apache and uvicorn mean every interface (gunicorn refuses it). It is
  refused, saying what to write for every interface, rather than bound to 127.0.0.1.
- An IPv6 link-local address (``fe80::/10``) is refused without its zone (the kernel
  cannot tell the interface: EINVAL), naming the interface that has it when one does. A
  UNIX socket path that is a symbolic link to nothing is refused, saying so (a bind would
  answer "address already in use"). One that ends in ``/``, ``/.`` or ``/..`` is refused: a
  socket's path ends with its file name (the kernel answers "no such file or directory").
- An address with a URL's path after it (``HOST:PORT/``, ``fd://N/x``, ``tcp://HOST:PORT/``,
  a port alone with a path) is told to drop the path, with the rest of its hint; a file's
  path written without ``unix:`` (``./app.sock``, ``/run/x.sock``) is told to write it.
- ``unix://PATH`` with a relative PATH is refused, saying what to write: gunicorn reads
  it as PATH in the working directory, a UNIX socket path here as ``//PATH``, at the
  root (``unix:///abs`` names ``/abs`` in both, and stays valid).
- A TCP or ``fd://`` address with white space around it (a stray space in a quote) is
  refused showing it quoted, with the address to write: the space is unseen otherwise,
  and no host name holds one (a UNIX socket's file name may end in one).
- ``check_written`` is the spelling checks alone (white space, several in one), which
  ``proxy_protocol_bind``'s entries get too: they name ``bind``'s, written alike.
- Several addresses written as one entry (``a:1,b:2``, ``a:1 b:2``: each part an address,
  the whole none) are refused as ``SeveralAddresses``, which holds the parts: the caller,
  who knows where the entry came from, says how to list them there.
- ``overlapping`` finds, between IP literals only, the addresses the master could not bind
  side by side (the same address written twice, a zone by name and by index, a wildcard
  and an address of its family on one port), and UNIX socket paths that name one file
  (``unix:a.sock`` and ``unix:./a.sock``), so that check-config refuses what a start
  would refuse, whatever the resolver.
- ``unheld_fds`` is check-config's look at each ``fd://N`` in its own process: a descriptor
  that is no listening stream socket there is a warning, not a problem (a supervisor may
  hand the socket to the start alone), in the words a start holding the same refuses it.
"""

import errno
import os
import re
import socket
import stat

from .options import SCHEMES

FD_MAX = 2 ** 31 - 1  # a descriptor is a C int
UNIX_PATH_MAX = 107  # bytes of a UNIX socket's path: sun_path is 108, with its terminating NUL


_BIND = re.compile(r"^(unix:.*|fd://\d+|\[[0-9a-fA-F:.]+(%[\w.-]+)?\]:\d+|[^:\[\]]*:\d+)$", re.ASCII)


def check_bind(addresses, forms="HOST:PORT, [V6]:PORT, unix:PATH or fd://N"):
    """Each address must be one the master can bind: IP literals valid, host names
    resolvable now (as the master will resolve them at start), ports in range."""
    for typed in addresses:
        address = bind_address(typed)
        check_written(typed)
        if not _BIND.match(address):  # (quoted as typed: a scheme's // may be where it went wrong)
            raise ValueError(f"{typed}: expected {forms}{_bind_hint(address, typed[:len(typed) - len(address)])}")
        if address.startswith("unix:"):
            if address.startswith("unix://") and address[7:] and not address.startswith("unix:///"):
                raise ValueError(f"{address}: this is the path {address[5:]} here, at the root (/), where "
                                 f"gunicorn reads unix://{address[7:]} as {address[7:]}: write "
                                 f"unix:{address[7:]} for that, or unix:/{address[7:]} for the root")
            if not address[5:].strip("/"):  # (unix://, unix:/: the root directory, not a socket's path)
                raise ValueError(f"{address}: no socket path after unix: expected {forms}")
            if os.path.basename(address[5:]) in ("", ".", ".."):
                raise ValueError(f"{address}: {_no_file_name(address[5:])}")
            directory = os.path.dirname(os.path.abspath(address[5:]))
            if not os.path.isdir(directory):
                raise ValueError(f"{address}: directory {directory} does not exist")
            try:
                mode = os.stat(address[5:]).st_mode
            except OSError:
                mode = None
            if mode is not None and not stat.S_ISSOCK(mode):  # the master would refuse it
                raise ValueError(f"{address}: the path exists and is not a socket")
            if mode is None and os.path.islink(address[5:]):
                raise ValueError(f"{address}: {dangling_link(address[5:])}")
            size = len(os.fsencode(address[5:]))
            if size > UNIX_PATH_MAX:
                raise ValueError(f"{address}: the path is {size} bytes long; a UNIX socket's may be at most "
                                 f"{UNIX_PATH_MAX} (sun_path in unix(7))")
            continue
        if address.startswith("fd://"):
            if int(address[5:]) > FD_MAX:
                raise ValueError(f"{address}: descriptor number out of range (0 to {FD_MAX})")
            continue
        host, _, port = address.rpartition(":")
        if int(port) > 65535:
            raise ValueError(f"{address}: port out of range (0 to 65535)")
        if host == "*":  # glibc's getaddrinfo takes it for no name: the loopback address
            raise ValueError(f"{address}: * is no host here (it would bind the loopback address alone): write "
                             f"0.0.0.0:{port} for every IPv4 interface, or [::]:{port} for IPv6 and IPv4")
        if host.startswith("["):
            literal, _, zone = host[1:-1].partition("%")
            try:
                packed = socket.inet_pton(socket.AF_INET6, literal)
            except OSError:
                raise ValueError(f"{address}: {literal} is not a valid IPv6 address") from None
            if zone and not zone.isdigit():
                try:
                    socket.if_nametoindex(zone)
                except OSError:
                    raise ValueError(f"{address}: {zone} names no network interface of this host") from None
            if not zone and packed[0] == 0xfe and packed[1] & 0xc0 == 0x80:  # fe80::/10
                raise ValueError(f"{address}: a link-local address is bound on one network interface: write "
                                 f"[{literal}%{_interface_of(literal) or 'INTERFACE'}]:{port}")
            if packed[:12] == b"\0" * 10 + b"\xff\xff":  # the kernel refuses to bind one (EINVAL)
                ipv4 = socket.inet_ntop(socket.AF_INET, packed[12:])
                raise ValueError(f"{address}: an IPv4-mapped address cannot be bound: write {ipv4}:{port}")
        elif re.fullmatch(r"[0-9.]+", host):
            try:
                socket.inet_pton(socket.AF_INET, host)
            except OSError:
                raise ValueError(f"{address}: {host} is not a valid IPv4 address") from None
        elif host:
            try:
                socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)  # IPv4 first at bind, else IPv6
            except (OSError, UnicodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ValueError(f"{address}: cannot resolve {host} to an address ({reason})") from None


class SeveralAddresses(ValueError):
    """Several addresses written as one entry (``typed``); ``parts`` holds them, as written."""

    def __init__(self, message, typed, parts):
        super().__init__(message)
        self.typed, self.parts = typed, parts


def check_written(typed):
    """The spelling of one entry, as ``bind`` and ``proxy_protocol_bind`` take it: white
    space around a TCP or ``fd://`` address (a YAML or shell quote's stray space: unseen in
    the message, and no host name holds one) and several addresses as one entry."""
    address = bind_address(typed)
    if typed.strip() != typed and _BIND.match(bind_address(typed.strip())) and "unix:" not in address[:5]:
        raise ValueError(f"{typed!r}: white space around the address: write {typed.strip()!r}")
    parts = written_together(typed) if not _BIND.match(address) else []
    if parts:
        raise SeveralAddresses(f"{typed}: {len(parts)} addresses written as one entry, which takes one", typed, parts)


def written_together(typed):
    """The addresses of an entry that is several written as one, separated by commas,
    semicolons or blanks (each part an address by its form), else []."""
    parts = [part for part in re.split(r"[\s,;]+", typed) if part]
    return parts if len(parts) > 1 and all(_BIND.match(bind_address(part)) for part in parts) else []


def dangling_link(path):
    """What is wrong with a UNIX socket path that is a symbolic link to nothing: a bind
    does not follow it (the kernel answers EADDRINUSE), nor may the link be removed."""
    target = os.readlink(path)
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return (f"the path is a symbolic link to {target}, a chain of links that leads back to itself (a "
                    f"socket is not bound through a link)")
    return (f"the path is a symbolic link to {target}, which does not exist (a socket is "
            f"not bound through a link)")


def _no_file_name(path):
    """What is wrong with a UNIX socket path that ends in ``/``, ``/.`` or ``/..`` (the kernel
    answers "no such file or directory", or "address already in use" where a file is), and
    what to write."""
    ending = "/" + os.path.basename(path)
    meant = os.path.normpath(path)
    if os.path.basename(meant) not in ("", ".", "..") and not os.path.isdir(meant):
        return f"a UNIX socket's path ends with its file name, not {ending}: write unix:{meant}"
    return (f"a UNIX socket's path ends with its file name, not {ending}: {meant} is a directory, name the "
            f"socket in it (unix:{os.path.join(meant, 'NAME.sock')})")


def _interface_of(literal):
    """The name of the network interface that has the link-local address ``literal``, or None."""
    for index, name in socket.if_nameindex():
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            probe.bind((literal, 0, 0, index))
            return name
        except OSError:
            continue
        finally:
            probe.close()
    return None


def _bind_hint(address, scheme=""):
    """`` (write ...)`` for an address gunicorn or uvicorn would take in another form, or ""
    (``scheme``: the ``http://`` or ``https://`` written before it, kept in the advice)."""
    prefix = next((p for p in ("fd://", "tcp://") if address.startswith(p)), "")
    if not prefix and not address.startswith("unix:") and (
            address.startswith(("/", "./", "../")) or address.endswith(".sock")):  # a file's path
        return f" (a UNIX socket is written unix:PATH: {scheme}unix:{address})"
    if "/" in address[len(prefix):] and not address.startswith("unix:"):  # a URL's path
        head, _, path = address[len(prefix):].partition("/")
        where = "the trailing /" if not path else f"/{path}"
        if prefix == "fd://":
            head = prefix + head
        elif prefix:  # (tcp://: dropped as well)
            where = f"{prefix} and {where}"
        if _BIND.match(head):
            return f" (a bind takes no path: write {scheme}{head}, without {where})"
        if _no_port(head):
            return f" (a bind takes no path, and needs a port: write {scheme}{_no_port(head)}:8000)"
        if head.isascii() and head.isdigit():
            return (f" (a bind takes no path, and a port alone is no address: write {scheme}127.0.0.1:{head}, "
                    f"or {scheme}0.0.0.0:{head} for every interface)")
        inner = _bind_hint(head, scheme)  # (an IPv6 address without brackets: head has no / left)
        return f" (a bind takes no path, and {inner[2:]}" if inner else ""
    if address.rstrip(":") in _FORMS:  # a form's word without its value: no host of that name was meant
        return f" ({_FORMS[address.rstrip(':')]})"
    if _no_port(address):  # a host alone, or a host and a colon with nothing after it
        return f" (no port: write {scheme}{_no_port(address)}:8000)"
    if address.startswith("tcp://") and _BIND.match(address[6:]):
        return f" (write it without tcp://: {address[6:]})"
    if address.isascii() and address.isdigit():
        return f" (a port alone: write 127.0.0.1:{address}, or 0.0.0.0:{address} for every interface)"
    if address.count(":") >= 2 and not address.startswith("["):
        host, _, port = address.rpartition(":")
        try:
            socket.inet_pton(socket.AF_INET6, host)
            if port.isascii() and port.isdigit():
                return f" (an IPv6 address is written in brackets: [{host}]:{port})"
        except OSError:
            pass
        try:
            socket.inet_pton(socket.AF_INET6, address)
            return f" (an IPv6 address is written in brackets, with its port: [{address}]:8000)"
        except OSError:
            return ""
    return ""


_FORMS = {"unix": "a UNIX socket is written unix:PATH", "fd": "a descriptor is written fd://N",
          "tcp": "a TCP address is written HOST:PORT"}


def _no_port(address):
    """The host of ``address`` when it names one and no port (``127.0.0.1``, ``[::1]``,
    ``localhost:``), else ""."""
    host = address[:-1] if address.endswith(":") else address
    if host.startswith("[") and host.endswith("]"):
        try:
            socket.inet_pton(socket.AF_INET6, host[1:-1].partition("%")[0])
            return host
        except OSError:
            return ""
    return host if ":" not in host and re.fullmatch(r"[\w.-]+", host) and not host.isdigit() else ""  # (a port alone)


def bind_address(address):
    """The address a ``bind`` entry names, without its ``http://``/``https://`` scheme."""
    for scheme in SCHEMES:
        if address.startswith(scheme):
            return address[len(scheme):]
    return address


def overlapping(address, others):
    """The first of ``others`` that the master could not bind beside ``address`` (or None):
    the same IP address and port written another way (``:8000``, ``0.0.0.0:8000``), or an
    address and a wildcard of its family on one port. Only IP literals are compared (no
    name is resolved, so that a reload's check does not depend on the resolver); port 0
    never overlaps."""
    if bind_address(address).startswith("unix:"):
        mine = unix_place(bind_address(address)[5:])
        return next((other for other in others if bind_address(other).startswith("unix:")
                     and unix_place(bind_address(other)[5:]) == mine), None)
    mine = _literal(address)
    if mine is None:
        return None
    for other in others:
        theirs = _literal(other)
        if theirs is None or theirs[0] != mine[0] or theirs[2] != mine[2]:
            continue
        if theirs[1] == mine[1] or not theirs[1][0].strip(b"\0") or not mine[1][0].strip(b"\0"):
            return other
    return None


def unix_place(path):
    """The file a UNIX socket path names, however written (relative, ``..``, through a
    linked directory): its directory's real path and its name."""
    directory, name = os.path.split(path)  # (the links in the directory resolved before any "..", as the kernel does)
    return os.path.join(os.path.realpath(directory or "."), name)


def _literal(address):
    """(family, (packed IP, zone), port) of a TCP bind address naming an IP literal (or no
    host: 0.0.0.0) and a port other than 0, else None."""
    address = bind_address(address)
    if address.startswith(("unix:", "fd://")) or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    if not (port.isascii() and port.isdigit()) or int(port) == 0:
        return None
    host, _, zone = host[1:-1].partition("%") if host.startswith("[") else (host or "0.0.0.0", "", "")
    if zone and not zone.isdigit():  # eth0 and its index are one zone
        try:
            zone = str(socket.if_nametoindex(zone))
        except OSError:
            pass
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return family, (socket.inet_pton(family, host), zone), int(port)
        except OSError:
            pass
    return None


def unheld_fds(settings, where):
    """``SOURCE:KEY: fd://N: what is wrong ...`` for each ``fd://N`` of ``bind`` and
    ``metrics_bind`` that this process does not hold as a listening stream socket
    (``where(settings, key)`` names the source). ``bind`` is not looked at under systemd
    socket activation (``LISTEN_FDS``): its sockets stand in for it."""
    found = []
    binds = [] if os.environ.get("LISTEN_FDS") else settings.bind
    for key, addresses in (("bind", binds), ("metrics_bind", [settings.metrics_bind] if settings.metrics_bind else [])):
        for address in map(bind_address, addresses):
            reason = _fd_problem(int(address[5:])) if address.startswith("fd://") else None
            if reason:
                found.append(f"{where(settings, key)}: {address}: {reason} in check-config's process (a start "
                             f"that does not inherit it as a listening socket is refused)")
    return found


def _fd_problem(fd):
    """What descriptor ``fd`` of this process lacks to be listened on, or None."""
    try:
        mode = os.fstat(fd).st_mode
    except (OSError, OverflowError):
        return "not an open socket descriptor"
    if not stat.S_ISSOCK(mode):
        return "not a socket"
    sock = socket.socket(fileno=fd)
    try:
        if sock.type != socket.SOCK_STREAM:
            return "not a stream socket (TCP or UNIX)"
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return "the socket is not listening"
    finally:
        sock.detach()  # (the descriptor is not this object's to close)
    return None
