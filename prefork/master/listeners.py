"""Listen sockets: bound by the master before forking, or inherited.

Sources, in order: sockets handed over by a previous master on re-exec
(``PREFORK_INHERIT``: JSON ``[[KEY, FD], ...]``; the older ``KEY=FD;...`` is read too),
systemd socket activation, ``fd://N`` addresses, and finally sockets this process binds.
Inherited sockets are never bound again, nor listened on (but for the new ``backlog``
of one a previous master bound: Linux changes it in place, keeping the queue); so an
``fd://N`` that is not a listening stream socket is a configuration problem (its workers
would fail on every accept). A ``bind`` entry's ``http://``/``https://`` scheme is the
workers' business (TLS or not): the socket is opened for the address after it.
A UNIX socket this process binds gets ``unix_socket_mode`` (0o666 by default) before it
listens, whatever the umask: a proxy of another user must be able to connect (its path
made ready, and removed at stop, by unix_sockets.py). The listening line names an IPv6
link-local listener with its zone (``[fe80::1%eth0]:8000``), as it must be written.

Rules of the hand-over (USR2):
- Every listener is handed over, in order, under its key: its ``bind`` address as
  written, ``systemd:NAME``, or ``metrics:ADDRESS`` for the operations endpoints'
  listener. Keys may repeat (``127.0.0.1:0`` twice, two systemd sockets of one name):
  the new master takes, for each configured address in turn, the first socket left
  under that key, so every listener survives, paired in order; an address with none
  then takes one of a key of the same place written otherwise (``https://`` added, a
  host name for its address, ``:PORT``, a relative path). It makes them close-on-exec
  again, as sockets it binds are: a process its workers' app spawns does not keep the
  ports after the daemon stops.
- An inherited socket the new configuration does not name is closed (by the caller of
  ``open_listeners``, once every address has taken its own). An inherited ``[::]``
  listener keeps the IPv6-only flag it was bound with; a warning says so when the new
  configuration asks for the other (a restart applies it).
- Before a USR2 execs, its check-config opens (and closes at once) every address the
  new program would have to open itself (``trial_bind``): one in use, or not on this
  host, refuses the re-exec, where the new program would have exited with status 2
  and taken the daemon down; so does an IPv6-only ``[::]`` listener the new program
  would keep with its IPv4 twin (``0.0.0.0:PORT``) dropped: IPv4 clients refused.
"""

import errno
import json
import logging
import os
import socket

from ..bindcheck import unix_place
from ..settings import bind_address
from . import systemd
from .unix_sockets import PathTaken, remove_unix_paths, unix_paths, unix_socket

log = logging.getLogger("prefork.master")

INHERIT_ENV = "PREFORK_INHERIT"
HANDOVER_ENV = "PREFORK_HANDOVER_KEYS"  # a USR2's check-config: the keys the new master will inherit (JSON)


class ListenError(OSError):
    """Addresses that could not be opened: ``failures`` is ``[(address, what is wrong)]``."""

    def __init__(self, failures):
        super().__init__("; ".join(f"{address}: {reason}" for address, reason in failures))
        self.failures = failures


class NotListening(OSError):
    """A socket handed over (``fd://N``) that cannot be accepted on: ``strerror`` says why."""


def _reason(address, exc):
    """What is wrong, in words an operator can act on."""
    address = bind_address(address)
    if isinstance(exc, (PathTaken, NotListening)):
        return exc.strerror
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host ({exc.strerror})"
    code = exc.errno
    known = {errno.EADDRINUSE: "address already in use", errno.EADDRNOTAVAIL: "address not available on this host"}
    if code in known:
        return known[code]
    if code == errno.EACCES:
        port = address.rpartition(":")[2]
        if not address.startswith(("unix:", "fd://")) and port.isdigit() and 0 < int(port) < 1024:
            return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        return "permission denied"
    if address.startswith("fd://") and code in (errno.EBADF, errno.ENOTSOCK):
        return "not an open socket descriptor"
    return (exc.strerror or str(exc)).lower()


def describe(sock):
    """A human address for a listening socket: 127.0.0.1:8000, [::1]:80, unix:/path."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return "unix:" + (name if isinstance(name, str) else name.decode(errors="replace"))
    if sock.family != socket.AF_INET6:
        return f"{name[0]}:{name[1]}"
    zone = ""
    if name[3] and "%" not in name[0]:  # a link-local address: its interface, as it was written
        try:
            zone = "%" + socket.if_indextoname(name[3])
        except OSError:
            zone = f"%{name[3]}"
    return f"[{name[0]}{zone}]:{name[1]}"


def speaks(address, settings):
    """What a listener expects first, for its "listening at" line: ``TLS``, ``PROXY
    header first``, both, or nothing (plain HTTP). The TLS rule is tlsconfig's, imported
    only when TLS may be in use (a master without it never loads ``ssl``)."""
    said = []
    if address.startswith("https://") or settings.values.get("certfile"):
        from ..net.tlsconfig import listener_tls
        if listener_tls(address, settings):
            said.append("TLS")
    if settings.proxy_protocol or address in settings.proxy_protocol_bind:
        said.append("PROXY header first")
    return ": " + ", ".join(said) if said else ""


def _host_port(address):
    """(host, port) of a TCP bind address, else None."""
    address = bind_address(address)
    if address.startswith(("unix:", "fd://")) or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", port


def dual_stack(address, addresses):
    """An IPv6 wildcard (``[::]:PORT``) takes IPv4 clients too (as gunicorn's and Node's
    do), unless the list also binds an IPv4 address on its port (``0.0.0.0:PORT``
    beside it, as nginx configurations write it): then it stays IPv6-only."""
    mine = _host_port(address)
    if mine is None or mine[0] != "::":
        return False
    for other in addresses:
        theirs = _host_port(other)
        if theirs is not None and theirs[1] == mine[1] and ":" not in theirs[0]:
            return False
    return True


def _bind(address, backlog, unix_mode, dual=False):
    address = bind_address(address)
    if address.startswith("unix:"):
        sock, target = unix_socket(address[5:])
    else:
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        literal, _, zone = host.partition("%")
        target = (host, int(port))
        if zone:  # fe80::1%eth0: the zone as the scope id of the address (a 4-tuple)
            target = (literal, int(port), 0, int(zone) if zone.isdigit() else socket.if_nametoindex(zone))
        if family == socket.AF_INET and not host.replace(".", "").isdigit():
            family, target = _resolve(host, int(port))
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
    try:
        sock.bind(target)
        if isinstance(target, str) and unix_mode is not None:
            os.chmod(target, unix_mode)  # before listen: no connection finds another mode
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def held_by(opened, address):
    """The address of the first of ``opened`` (``[(address, socket)]``) whose socket holds
    ``address``'s port in its way (``_overlaps``), or None."""
    return next((other for other, held in opened if _overlaps(held, address)), None)


def _overlaps(sock, address):
    """Whether ``sock`` (bound already) holds ``address``'s port in its way: the same port
    and family, and the same address (as bound: a name resolved, an IPv6 address
    normalised) or a wildcard on either side; for a UNIX socket, the same file."""
    address = bind_address(address)
    if address.startswith("unix:") and sock.family == socket.AF_UNIX and isinstance(sock.getsockname(), str):
        return unix_place(address[5:]) == unix_place(sock.getsockname())
    if address.startswith(("unix:", "fd://")) or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    literal = host.partition("%")[0]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if family == socket.AF_INET and not host.replace(".", "").isdigit():
        try:
            family, (literal, *_) = _resolve(host, int(port))
        except OSError:
            return False
    held_host, held_port = sock.getsockname()[:2]
    if sock.family != family or held_port != int(port):
        return False
    try:
        mine = socket.inet_pton(family, literal)
        held = socket.inet_pton(family, held_host.partition("%")[0])
    except OSError:
        return False
    return mine == held or not mine.strip(b"\0") or not held.strip(b"\0")


def _resolve(host, port):
    """(family, address) to bind for a host name: its IPv4 address when it has one (as
    before: ``localhost`` is 127.0.0.1), else its IPv6 one (``ip6-localhost``)."""
    try:
        return socket.AF_INET, socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except socket.gaierror:
        return socket.AF_INET6, socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_STREAM)[0][4]


METRICS_PREFIX = "metrics:"  # the key of the operations endpoints' listener in a hand-over


def inherited(env=None):
    """The sockets a previous master handed over (``PREFORK_INHERIT``, removed from
    ``env``), in order: ``[(key, socket), ...]`` (see the module's rules)."""
    env = os.environ if env is None else env
    value = env.pop(INHERIT_ENV, "")
    if value.startswith("["):
        pairs = json.loads(value)  # [[key, fd], ...]: a key may hold any character (a unix path)
    else:  # KEY=FD;KEY=FD, as a master of an earlier version hands them over
        pairs = [item.rpartition("=")[::2] for item in filter(None, value.split(";"))]
    sockets = []
    for key, fd in pairs:
        os.set_inheritable(int(fd), False)  # for_exec made it inheritable for the exec alone
        sockets.append((key, socket.socket(fileno=int(fd))))
    return sockets


def take(inherited, key, alike=True):
    """The first socket in ``inherited`` under ``key``, removed from the list; else, with
    ``alike``, the first under a key that names the same place (``_place``); or None."""
    for same in (lambda name: name == key, lambda name: alike and _place(name) == _place(key) is not None):
        for index, (name, sock) in enumerate(inherited):
            if same(name):
                del inherited[index]
                return sock
    return None


def _place(key):
    """Where a key's socket listens, whatever its spelling (scheme, host name, ``:PORT``,
    a relative path): ``(family, address)``; None for a port 0, ``fd://N`` or systemd."""
    prefix = METRICS_PREFIX if key.startswith(METRICS_PREFIX) else ""
    address = bind_address(key[len(prefix):])
    if address.startswith("unix:"):
        return prefix, "unix", os.path.abspath(address[5:])
    if address.startswith(("fd://", "systemd:")) or address.endswith(":0") or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    literal, _, zone = host.partition("%")
    try:
        if ":" not in host and not host.replace(".", "").isdigit():
            family, (literal, *_) = _resolve(host, int(port))
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return prefix, family, socket.inet_pton(family, literal), zone, int(port)
    except (OSError, ValueError, UnicodeError):
        return None


def open_listeners(addresses, backlog, env=None, unix_mode=None, inherited=None):
    """Returns ``[(address, socket), ...]``; raises ListenError naming every address it
    could not open (and then keeps none of them open). ``inherited`` (from
    ``inherited()``) loses the sockets taken from it; the caller closes what is left."""
    env = os.environ if env is None else env
    inherited = [] if inherited is None else inherited
    handed_over = [(key, sock) for key, sock in inherited if key.startswith("systemd:")]
    if handed_over:  # a re-exec under socket activation: keep systemd's sockets, all of them, in order
        inherited[:] = [(key, sock) for key, sock in inherited if not key.startswith("systemd:")]
        return handed_over
    activated = systemd.listen_fds(env=env)
    if activated:
        sockets = []
        failures = []
        for fd, name in activated:  # (an Accept=yes connection or a ListenDatagram= socket is none)
            key = f"systemd:{name}"
            try:
                sock = socket.socket(fileno=fd)
            except OSError as exc:
                failures.append((key, f"descriptor {fd} is not open (LISTEN_FDS counts more descriptors than were "
                                      f"passed)" if exc.errno == errno.EBADF else
                                 f"descriptor {fd} is not a socket (a file, a pipe or a FIFO was passed)"))
                continue
            sockets.append((key, sock))
            try:
                _check_listening(sock)
            except OSError as exc:
                hint = ("a unit with Accept=yes passes one connection, not a listener: use Accept=no"
                        if sock.type == socket.SOCK_STREAM else "use ListenStream= in the socket unit")
                failures.append((key, f"{_reason(key, exc)}; {hint}"))
        if failures:
            for _, sock in sockets:
                sock.detach()  # systemd's descriptors: not ours to close
            raise ListenError(failures)
        return sockets
    result = []
    failures = []
    bound = []  # the sockets bound here (their UNIX socket files go if the whole fails)
    kept = [take(inherited, address, alike=False) for address in addresses]  # as written first, then alike
    kept = [sock or take(inherited, address) for address, sock in zip(addresses, kept)]
    try:
        for address, sock in zip(addresses, kept):
            try:
                if sock is not None and not bind_address(address).startswith("fd://"):
                    _inherited_stack(sock, address, addresses)
                    sock.listen(backlog)  # a USR2 applies a new backlog too
                if sock is None and bind_address(address).startswith("fd://"):
                    fd = int(bind_address(address)[5:])
                    same = [other for other, held in result if _same_socket(held, fd)]
                    if same:  # (two socket objects on one descriptor: the second close fails)
                        failures.append((address, f"the same socket as {same[0]}, also in this list"))
                        continue
                    sock = socket.socket(fileno=fd)
                    os.set_inheritable(sock.fileno(), False)
                    _check_listening(sock)
                if sock is None:
                    sock = _bind(address, backlog, unix_mode, dual_stack(address, addresses))
                    bound.append((address, sock))
            except OSError as exc:
                reason = _reason(address, exc)
                if exc.errno == errno.EADDRINUSE:
                    mine = [other for other, held in result if _overlaps(held, address)]
                    if mine:  # (a wildcard and a specific address of one port, or one file, both in the list)
                        reason = f"address already in use (by {mine[0]}, also in this list)"
                failures.append((address, reason))
                continue
            result.append((address, sock))
        if failures:
            raise ListenError(failures)
    except BaseException:
        paths = unix_paths(bound)
        for sock in [sock for _, sock in result] + [sock for sock in kept if sock is not None]:
            sock.close()  # (closing twice is harmless)
        remove_unix_paths(paths)  # nothing of a start that failed is left behind
        raise
    return result


def _inherited_stack(sock, address, addresses):
    """An inherited ``[::]`` listener keeps the IPv6-only flag it was bound with (it cannot
    change on a bound socket): said when the configuration now asks for the other one."""
    if sock.family != socket.AF_INET6 or _host_port(address) is None or _host_port(address)[0] != "::":
        return
    wanted = dual_stack(address, addresses)
    if wanted == bool(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)):
        log.warning("%s: the listener handed over is %s; the configuration asks for %s from the next restart",
                    address, "IPv6-only" if wanted else "dual-stack (IPv4 clients too)",
                    "dual-stack" if wanted else "IPv6-only")


def _same_socket(sock, fd):
    """``sock`` is the socket descriptor ``fd`` refers to (the same fd, or a dup of it)."""
    try:
        mine, theirs = os.fstat(sock.fileno()), os.fstat(fd)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def _check_listening(sock):
    """An ``fd://N`` socket, or one systemd passed, is used as it is: it must be a stream
    socket that listens."""
    if sock.type != socket.SOCK_STREAM:
        raise NotListening(errno.EINVAL, "not a stream socket (TCP or UNIX): nothing can be accepted on it")
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise NotListening(errno.EINVAL, "the socket is not listening (whoever hands it over must call listen() "
                                         "on it first)")


def trial_bind(addresses, handed_over, backlog, unix_mode=None, prefix=""):
    """For a USR2's check: ``[(address, what is wrong)]`` for each address the new master
    would have to open itself (no ``handed_over`` key is ``prefix + address``, nor of its
    place, as the new master takes them; not an ``fd://N``) and that cannot be opened
    now (each one that can is closed at once, its socket file removed), and for each
    IPv6-only ``[::]`` listener kept where the configuration now wants IPv4 clients too."""
    keys = [(key, True) for key in handed_over]
    old = [key[len(prefix):] for key in handed_over if key.startswith(prefix)]
    mine = [take(keys, prefix + address, alike=False) is None for address in addresses]
    failures = []
    for address, own in zip(addresses, mine):
        if not own or take(keys, prefix + address) is not None:  # kept, as the old master bound it
            if dual_stack(address, addresses) and not dual_stack(address, old):
                failures.append((address, "kept IPv6-only by a USR2, IPv4 clients would be refused: restart instead"))
        elif not bind_address(address).startswith("fd://"):
            try:
                sock = _bind(address, backlog, unix_mode, dual_stack(address, addresses))
            except OSError as exc:
                failures.append((address, _reason(address, exc)))
                continue
            for path, _ in unix_paths([(address, sock)]):
                os.unlink(path)
            sock.close()
    return failures


def for_exec(listeners):
    """Mark the sockets inheritable and return the env value that names them
    (``[(key, socket), ...]`` in order; keys may repeat)."""
    parts = []
    for key, sock in listeners:
        os.set_inheritable(sock.fileno(), True)
        parts.append([key, sock.fileno()])
    return json.dumps(parts)
