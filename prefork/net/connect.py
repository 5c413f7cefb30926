"""The client side of ``net.Socket``: connecting without blocking the loop.

Rules:
- An address literal is connected at once; a name is resolved on a short-lived thread,
  never on the loop, and the outcome is handed back with ``call_soon_threadsafe``.
- A name that does not resolve is ``error`` with ENOTFOUND (a name the resolver
  cannot even encode, a label over 63 bytes, too), another resolver failure with its
  ``EAI_*`` name; a refused or failed connect ``error`` with its errno name
  (ECONNREFUSED & co.), as Node reports them; what was written while connecting goes
  out once connected.
- The error is a ``ConnectError`` with Node's fields: ``code``, ``errno`` (the system's
  number as Python's ``errno`` module has it; Node's are libuv's, negative),
  ``syscall`` (``connect`` or ``getaddrinfo``), ``address`` and ``port`` of the connect
  (``address`` alone, the path, for a UNIX socket), ``hostname`` for a name that did
  not resolve.
- A name that resolves to several addresses (``localhost`` as ``::1`` and
  ``127.0.0.1``) is connected as Node 20's ``autoSelectFamily`` does (on unless
  ``auto_select_family=False``, a ``family`` or a ``local_address`` is given): each
  address once, the families interleaved from the first address's (v6, v4, v6, ...);
  an attempt not connected after ``auto_select_family_attempt_timeout`` (0.25 s, at
  least 0.01 s) is given up (its error ETIMEDOUT) for the next address, the last one
  waits for the kernel; the events ``connectionAttempt`` (address, port, family 4 or
  6; for a single address too, an address literal's on the turn after the call, never
  after the connect's outcome), ``connectionAttemptFailed`` (the same and the error)
  and ``connectionAttemptTimeout``; ``auto_select_family_attempted_addresses`` lists
  the ``address:port`` tried. When none connects, the error is Node's AggregateError:
  the first address's ``code``, every address's error in ``errors`` (its message joins
  theirs, where Node's is empty). Otherwise only the name's first address is tried.
  ``lookup`` is emitted for each address resolved (err, address, family, host), and
  for a lookup's error (err, None, None, host).
- Where from and how (Node's ``net.connect`` options): ``local_address``/``local_port``
  bind the socket before each connect (SO_REUSEADDR, as libuv's; a port alone binds
  the family's any address); a bind that fails is ``error`` with ``syscall`` ``bind``
  (EADDRNOTAVAIL, EADDRINUSE; EINVAL for an address of the other family), or the
  name's next address. ``family`` (4, 6) limits what a name resolves to (an address
  literal connects as it is); ``hints`` are the resolver's flags; ``lookup`` replaces
  the resolver: called on the loop with Node's arguments, its error given as it is.
- ``remote_address``, ``remote_port`` and ``remote_family`` are None while connecting
  and after a failed connect (Node's are undefined), the peer's once connected.
- Connected: ``connect``, then ``ready``, as Node emits them (what was written while connecting
  is sent by a ``connect`` listener its first write added, as Node's); reading starts then, unless
  ``pause()`` was called before (it waits for ``resume()``, as Node's paused socket). The
  ``timeout`` option is Node's: ``set_timeout(timeout)`` at the call (a slow connect counts).
- A listener of ``connect``, ``ready``, ``lookup`` or ``connectionAttempt*`` that raises gets the
  socket destroyed (logged; a coroutine one's too): nothing else would end a socket whose
  connect stopped half-way (a request on it waited for ever).
- No host (``""``, None) is ``localhost``, as Node's ``net.connect`` (``""`` was ENOTFOUND).
- A port that is no whole number 0-65535 (nor a string of one) raises at the call, as Node's
  ``net.connect`` throws: ERR_SOCKET_BAD_PORT (a ValueError), or for another type ERR_INVALID_ARG_TYPE
  (a TypeError), with Node's message (net/ports.py). (Python's OverflowError came from the connect, a
  system socket left for the collector.)
- A UNIX socket ``path`` is connected at once; its socket has no remote address or port
  (None, as Node's are undefined); a failure names the path (``connect ENOENT /run/app.sock``).
  While the connect is pending its writer registration is the socket's writer (``_writer``),
  so ``destroy()`` mid-connect takes it off the loop like any other.
"""

import errno
import socket as _socket
import threading
from collections.abc import Mapping
from time import monotonic

from ..http.errors import HTTPError
from .callbacks import ClosedBeforeConnection
from .ports import checked_port
from .timers import timer_seconds
from .zones import zoned_host

_FAMILIES = {_socket.AF_INET: "IPv4", _socket.AF_INET6: "IPv6"}
_NOT_FOUND = {_socket.EAI_NONAME, getattr(_socket, "EAI_NODATA", _socket.EAI_NONAME)}


AUTO_SELECT_FAMILY = True  # Node 20's net.getDefaultAutoSelectFamily()
AUTO_SELECT_FAMILY_ATTEMPT_TIMEOUT = 0.25  # seconds (Node's 250 ms; at least 10 ms)


class ConnectError(HTTPError):
    """A connection that could not be made, with Node's fields (None where unset)."""

    errno = syscall = address = port = hostname = errors = None


def connect_error(code, number, where, address=None, port=None):
    """Node's error for a failed connect to ``address:port`` (``port`` None: a path)."""
    err = ConnectError(code, f"connect {code} {where}")
    err.errno, err.syscall, err.address, err.port = number, "connect", address, port
    return err


def resolve_error(exc, host):
    """Node's error for a name that did not resolve (``exc`` raised by getaddrinfo)."""
    number = exc.errno if isinstance(exc, OSError) else None
    if isinstance(exc, _socket.gaierror) and number not in _NOT_FOUND:
        code = next((name for name in dir(_socket) if name.startswith("EAI_") and getattr(_socket, name) == number),
                    "EAI_FAIL")
    elif isinstance(exc, OSError) and not isinstance(exc, _socket.gaierror) and number:
        code = errno.errorcode.get(number, "EAI_FAIL")  # (the system's error, EAI_SYSTEM's)
    else:  # (a name the resolver cannot encode is not found either, as Node says)
        code, number = "ENOTFOUND", number or _socket.EAI_NONAME
    err = ConnectError(code, f"getaddrinfo {code} {host}")
    err.errno, err.syscall, err.hostname = number, "getaddrinfo", host
    return err


def _literal_family(host):
    """AF_INET or AF_INET6 for an address literal, None for a name to resolve."""
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
            return family
        except (OSError, ValueError, TypeError):
            continue
    return None


class Connecting:
    """Mixed into ``Socket``: ``Socket.connect(loop, host, port)`` and its steps."""

    @classmethod
    def connect(cls, loop, host, port, path=None, *, local_address=None, local_port=None, family=0, lookup=None,
                hints=0, auto_select_family=None, auto_select_family_attempt_timeout=None, timeout=None):
        """A client socket connecting to ``host:port`` (or to the UNIX socket ``path``) without
        blocking; ``connecting`` is True until the ``connect`` event (``error`` with
        ECONNREFUSED & co. if not). A name is resolved on a short-lived thread, never on the
        loop (or by ``lookup``), of ``family`` (4, 6; 0 for any); one that does not resolve
        gives ``error`` with ENOTFOUND, as Node's. The socket is bound to ``local_address``
        and ``local_port`` first when given (Node's ``localAddress``, ``localPort``). A name
        of several addresses is connected as Node 20's ``autoSelectFamily`` does (``auto_select_family``,
        default ``AUTO_SELECT_FAMILY``; ``auto_select_family_attempt_timeout`` in seconds); ``timeout``: Node's."""
        idle = timer_seconds(timeout) if timeout and timeout == timeout else 0  # (as set_timeout's; NaN: JS's falsy)
        timeout = AUTO_SELECT_FAMILY_ATTEMPT_TIMEOUT
        if auto_select_family_attempt_timeout is not None:
            if isinstance(auto_select_family_attempt_timeout, bool) or not isinstance(
                    auto_select_family_attempt_timeout, (int, float)) or not auto_select_family_attempt_timeout > 0:
                raise ValueError("auto_select_family_attempt_timeout must be a number of seconds above 0, not "
                                 f"{auto_select_family_attempt_timeout!r}")
            timeout = max(auto_select_family_attempt_timeout, 0.01)  # (Node's minimum, 10 ms)
        if path is None:
            port = checked_port(port)
            host = host or "localhost"  # (Node's ``options.host || 'localhost'``: "" and None too)
        literal = _socket.AF_UNIX if path is not None else _literal_family(host)
        sock = _socket.socket(literal or (_socket.AF_INET6 if family == 6 else _socket.AF_INET), _socket.SOCK_STREAM)
        sock.setblocking(False)
        self = cls(loop, sock)
        self.arm_timeout(idle)
        self.connecting = True
        self.allow_half_open = False  # Node's net.connect default: the peer's FIN ends both sides
        self.remote_family = None  # (Node's remoteAddress, remotePort and remoteFamily: undefined until connected)
        self._target = None if path is not None else (host, port)  # the address being connected to
        self._path = path
        self._bind_to = (local_address, local_port) if local_address is not None or local_port else None
        self._addresses = ()  # a name's resolved addresses not tried yet
        self._failures = None  # the errors of a name's addresses tried, when it has several
        self._tried = False  # the system socket tried an address already
        self._auto = (AUTO_SELECT_FAMILY if auto_select_family is None else bool(auto_select_family)) and \
            family not in (4, 6) and local_address is None  # (Node's rules for autoSelectFamily)
        self._attempt_timeout = timeout
        self._attempt_timer = None  # the running attempt's, when a next address waits
        self.auto_select_family_attempted_addresses = None  # (Node's: a list once several addresses are tried)
        if path is not None:
            self._start_connect(path)
        elif literal is not None:  # (its connectionAttempt told on the next turn, to the listeners added by then)
            self._untold = (host, port, 6 if literal == _socket.AF_INET6 else 4)
            self.loop.call_soon(self._tell_attempt)
            self._start_connect((host, port))
        elif lookup is not None:
            self._lookup(lookup, host, port, family, hints)
        else:
            kind = {4: _socket.AF_INET, 6: _socket.AF_INET6}.get(family, _socket.AF_UNSPEC)
            threading.Thread(target=self._resolve, args=(host, port, kind, hints or 0), daemon=True).start()
        return self

    def _resolve(self, host, port, family=_socket.AF_UNSPEC, flags=0):
        """On the resolver thread: hand the outcome back to the loop."""
        try:
            outcome = []
            for family, socktype, proto, _, address in _socket.getaddrinfo(host, port, family, _socket.SOCK_STREAM,
                                                                           0, flags):
                if (family, address) not in [(f, a) for f, _, _, a in outcome]:
                    outcome.append((family, socktype, proto, address))
        except (OSError, UnicodeError, ValueError) as exc:  # (idna refuses a label over 63 bytes)
            outcome = exc
        self.loop.call_soon_threadsafe(self._resolved, host, outcome)

    def _lookup(self, lookup, host, port, family, hints):
        """Node's ``lookup`` option: ``lookup(host, options, callback)``, called now;
        ``options`` are Node's (``{"hints", "all": True}`` for any family, then the
        callback takes ``(err, [{"address", "family"}, ...])``; ``{"family", "hints"}``
        for 4 or 6, ``{"hints"}`` with a local address, then ``(err, address, family)``;
        either form is taken; ``hints`` AI_ADDRCONFIG unless given or a family is).
        Its error (or what it raises) is the socket's ``error`` as it is; an address
        that is not one is ERR_INVALID_IP_ADDRESS, as in Node. The callback may run on
        any thread."""
        if family:
            options = {"family": family, "hints": hints or 0}
        else:
            options = {"hints": hints or _socket.AI_ADDRCONFIG}
            if self._auto:
                options["all"] = True

        def callback(err=None, addresses=None, kind=None):
            self.loop.call_soon_threadsafe(self._looked_up, host, port, err, addresses)
        try:
            lookup(host, options, callback)
        except Exception as exc:
            callback(exc)

    def _looked_up(self, host, port, err, addresses):
        if self.destroyed or self._addresses or self._tried:
            return  # (destroyed meanwhile, or a second call of the callback)
        if err is None:
            outcome, invalid, told = [], None, []
            for each in ([addresses] if isinstance(addresses, str) or addresses is None else addresses):
                text = each.get("address") if isinstance(each, Mapping) else each
                family = _literal_family(text) if isinstance(text, str) else None
                if self._auto:  # ``lookup`` tells each entry, a bad one too (Node's, before it skips it)
                    told.append((text, each.get("family") if isinstance(each, Mapping) else None, family))
                if family is None:
                    if self._auto:
                        invalid = invalid or text  # (skipped, as Node's; an error when none is valid)
                        continue
                    err = ConnectError("ERR_INVALID_IP_ADDRESS", f"Invalid IP address: {text}")
                    break
                outcome.append((family, _socket.SOCK_STREAM, 0, (text, port)))
            if err is None and not outcome and invalid is not None:
                err = ConnectError("ERR_INVALID_IP_ADDRESS", f"Invalid IP address: {invalid}")
            if invalid is not None:  # each entry told in order (Node's), then the valid ones tried
                for text, given, family in told:
                    self.emit_or_destroy("lookup", None, text, given or (6 if family == _socket.AF_INET6 else 4), host)
                    if self.destroyed:
                        return
            if err is None and not outcome:
                err = resolve_error(_socket.gaierror(_socket.EAI_NONAME, "no address"), host)
        else:  # the lookup's own error: ``lookup`` tells it first, as Node's
            err = err if isinstance(err, BaseException) else ConnectError("ERR_LOOKUP", str(err))
            self.emit_or_destroy("lookup", err, None, None, host)
            if self.destroyed:
                return
        if err is not None:
            self._connect_error(err)
            return
        self._resolved(host, outcome, told=invalid is not None)  # (invalid: auto mode only, each entry told)

    def _resolved(self, host, outcome, told=False):
        if self.destroyed:
            return
        if isinstance(outcome, Exception):
            err = resolve_error(outcome, host)
            self.emit_or_destroy("lookup", err, None, None, host)  # (as Node's, before the error)
            if not self.destroyed:
                self._connect_error(err)
            return
        if not outcome:
            self._connect_error(resolve_error(_socket.gaierror(_socket.EAI_NONAME, "no address"), host))
            return
        if not self._auto:
            outcome = outcome[:1]  # (Node's lookup without ``all``: the first address)
        for family, _, _, address in () if told else outcome:
            self.emit_or_destroy("lookup", None, address[0], 6 if family == _socket.AF_INET6 else 4, host)
            if self.destroyed:
                return
        if self._auto:  # each address once, the families interleaved from the first's
            seen, first, other = set(), [], []
            for each in outcome:
                if each[3][0] not in seen:
                    seen.add(each[3][0])
                    (first if each[0] == outcome[0][0] else other).append(each)
            outcome = [each for pair in zip(first, other) for each in pair]
            outcome += first[len(other):] + other[len(first):]
        self._addresses = outcome
        if len(outcome) > 1:
            self._failures = []
            self.auto_select_family_attempted_addresses = []
        self._next_address()

    def _tell_attempt(self):
        """An address literal's ``connectionAttempt``, once: on the turn after the call, or
        when the connect ends first (uvloop may run its writer before that turn)."""
        untold, self._untold = self._untold, None
        if untold is not None and self.connecting and not self.destroyed:  # (destroyed in the call's turn: none)
            self.emit_or_destroy("connectionAttempt", *untold)

    _untold = None  # an address literal's attempt not told yet: (host, port, family)

    def _next_address(self):
        """Connect to the first address not tried yet (a new system socket when the
        one at hand tried another address already, or is of the other family)."""
        family, socktype, proto, address = self._addresses.pop(0)
        if family != self._sock.family or self._tried:
            sock = _socket.socket(family, socktype, proto)
            sock.setblocking(False)
            self._sock.close()
            self._sock = sock
            self._fd = sock.fileno()
        self._tried = True
        self._target = (zoned_host(address), address[1])
        self._start_connect(address, 6 if family == _socket.AF_INET6 else 4)

    def _start_connect(self, address, attempt=None):
        """Connect to ``address``; ``attempt``: a name's address (its family, 4 or 6),
        told by ``connectionAttempt``, given up for the next one after the attempt
        timeout when one waits."""
        sock = self._sock
        if sock.family != _socket.AF_UNIX:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            if self._bind_to is not None:
                err = self._bind()
                if err is not None:
                    self.loop.call_soon(self._attempt_failed, err)
                    return
        if attempt is not None:
            self.emit_or_destroy("connectionAttempt", address[0], address[1], attempt)
            if self.destroyed:
                return
            if self._failures is not None:
                self.auto_select_family_attempted_addresses.append(f"{address[0]}:{address[1]}")
        code = sock.connect_ex(address)
        if code in (0, errno.EINPROGRESS, errno.EAGAIN):
            self._writer = True  # registered: destroy() while connecting takes it off the loop
            self.loop.add_writer(self._fd, self._connected)
            if attempt is not None and self._addresses:
                self._attempt_timer = self.loop.call_later(self._attempt_timeout, self._attempt_timed_out,
                                                           address, attempt)
        else:
            self.loop.call_soon(self._connect_failed, code)

    def _bind(self):
        """Bind to the local address and port given (any address of the socket's family
        for a port alone; SO_REUSEADDR, as libuv's bind): None, or Node's ``bind`` error
        (EADDRNOTAVAIL, EADDRINUSE; EINVAL for an address of the other family)."""
        sock = self._sock
        address, port = self._bind_to
        address = address or ("::" if sock.family == _socket.AF_INET6 else "0.0.0.0")
        try:
            if _literal_family(address) != sock.family:
                raise OSError(errno.EINVAL, "address of the other family")
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.bind((address, port or 0))
            return None
        except OSError as exc:
            number = exc.errno or errno.EINVAL
            code = errno.errorcode.get(number, "EINVAL")
            err = ConnectError(code, f"bind {code} {address}" + (f":{port}" if port else ""))
            err.errno, err.syscall, err.address, err.port = number, "bind", address, port or None
            return err

    def _attempt_timed_out(self, address, family):
        """The attempt timeout ran out: the attempt is given up (its socket closed, its
        error ETIMEDOUT) and the next address tried, as Node's autoSelectFamily does."""
        self._attempt_timer = None
        if self.destroyed or not self.connecting:
            return
        if self._writer:
            self._writer = False
            self.loop.remove_writer(self._fd)
        self.emit_or_destroy("connectionAttemptTimeout", address[0], address[1], family)
        if self.destroyed:
            return
        self._failures.append(connect_error("ETIMEDOUT", errno.ETIMEDOUT, f"{address[0]}:{address[1]}",
                                            address[0], address[1]))
        self._next_address()  # (a new system socket: the one given up is closed)

    def _connected(self):
        if self._untold is not None:  # (Node tells it before the connect's outcome)
            self._tell_attempt()
            if self.destroyed:
                return
        if self._attempt_timer is not None:
            self._attempt_timer.cancel()
            self._attempt_timer = None
        self._writer = False
        self.loop.remove_writer(self._fd)
        code = self._sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if code:
            self._connect_failed(code)
            return
        self.connecting = False
        for listener in self.raw_listeners("close"):  # (a write's while connecting: not needed now)
            if type(listener) is ClosedBeforeConnection:
                self.off("close", listener)
        self._know_peer()
        self.last_activity = monotonic()
        if self._no_delay_wanted is not None or self._keep_alive_wanted is not None:
            self._set_wanted_options()  # (set while connecting: net/sockopts.py)
        if not self.is_paused():  # (one paused before its connect stays paused, as Node's)
            self.resume()
        if not (self.emit_or_destroy("connect") and self.emit_or_destroy("ready")):  # (Node's: right after 'connect')
            return  # a listener raised: the socket is destroyed (nothing else would end it)
        if not self._writer and not self.destroyed:
            self._flush()  # what was written while connecting, and its flush waiters

    def wrote_while_connecting(self):
        """The first write while connecting adds, as Node's, a ``connect`` listener sending what
        was written (the callbacks on the next turn) and the ``close`` listener that calls
        them back if the socket closes before it connects (net/callbacks.py)."""
        if not any(type(listener) is ClosedBeforeConnection for listener in self.raw_listeners("close")):
            self.once("connect", self._send_written)
            self.on("close", ClosedBeforeConnection())

    def _send_written(self):
        if not self._writer and not self.destroyed:
            self._flush(True)

    def _know_peer(self):
        """Connected: the remote address, port and family are the peer's, as the kernel names it."""
        if self._sock.family != _socket.AF_UNIX:
            self.remote_family = _FAMILIES.get(self._sock.family)
            try:
                peer = self._sock.getpeername()
                self.remote_address, self.remote_port = zoned_host(peer), peer[1]
            except OSError:  # (a peer already gone: the address connected to)
                self.remote_address, self.remote_port = self._target

    def _connect_failed(self, code):
        name = errno.errorcode.get(code, "ECONNREFUSED")
        if self._path is not None:
            err = connect_error(name, code, self._path, self._path)
        else:
            address, port = self._target
            err = connect_error(name, code, f"{address}:{port}", address, port)
        self._attempt_failed(err)

    def _attempt_failed(self, err):
        """An address's bind or connect failed: the name's next address, else ``error``."""
        if self._attempt_timer is not None:
            self._attempt_timer.cancel()
            self._attempt_timer = None
        failures = self._failures
        if failures is not None:
            failures.append(err)
        if err.syscall == "connect" and self._path is None:  # (a failed bind made no attempt: Node tells none)
            self.emit_or_destroy("connectionAttemptFailed", err.address, err.port,
                                 6 if self._sock.family == _socket.AF_INET6 else 4, err)
            if self.destroyed:
                return
        if self._addresses and not self.destroyed:  # a name's next address (Node's autoSelectFamily)
            self._next_address()
            return
        if failures:  # every address of the name failed: Node's AggregateError
            err = ConnectError(failures[0].code, "; ".join(str(each) for each in failures))
            err.errors = failures
        self._connect_error(err)

    def _connect_error(self, err):
        self.writable = False
        self._broken = True  # its 'close' says had_error, as Node's, when a protocol takes the error
        if self.protocol is not None:
            self.protocol.connection_error(err)
        self.destroy(err if self.protocol is None else None)
