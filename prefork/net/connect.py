"""The client side of ``net.Socket``: connecting without blocking the loop.

Rules:
- An address literal is connected at once; a name is resolved on a short-lived thread,
  never on the loop, and the outcome is handed back with ``call_soon_threadsafe``.
- A name that does not resolve is ``error`` with ENOTFOUND, a refused or failed connect
  ``error`` with its errno name (ECONNREFUSED & co.), as Node reports them; what was
  written while connecting goes out once connected.
- A name that resolves to several addresses (``localhost`` as ``::1`` and
  ``127.0.0.1``) is tried address by address, in the resolver's order, until one
  connects; the error is the last address's (Node 20's ``autoSelectFamily`` tries
  them too).
- Connected: ``connect``, then ``ready``, as Node emits them.
- A UNIX socket ``path`` is connected at once; its socket has no remote address or
  port (None, as Node's are undefined); a failure names the path (``connect ENOENT
  /run/app.sock``).
- While the connect is pending its writer registration is the socket's writer
  (``_writer``), so ``destroy()`` mid-connect takes it off the loop like any other.
"""

import errno
import socket as _socket
import threading
from time import monotonic

from ..http.errors import HTTPError

_FAMILIES = {_socket.AF_INET: "IPv4", _socket.AF_INET6: "IPv6"}


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
    def connect(cls, loop, host, port, path=None):
        """A client socket connecting to ``host:port`` (or to the UNIX socket ``path``)
        without blocking; ``connecting`` is True until the ``connect`` event (``error``
        with ECONNREFUSED & co. if not). A name is resolved on a short-lived thread,
        never on the loop; a name that does not resolve gives ``error`` with ENOTFOUND,
        as Node's does."""
        family = _socket.AF_UNIX if path is not None else _literal_family(host)
        sock = _socket.socket(family or _socket.AF_INET, _socket.SOCK_STREAM)
        sock.setblocking(False)
        self = cls(loop, sock)
        self.connecting = True
        self.allow_half_open = False  # Node's net.connect default: the peer's FIN ends both sides
        self.remote_address, self.remote_port = (None, None) if path is not None else (host, port)
        self._path = path
        self._addresses = ()  # a name's resolved addresses not tried yet
        self._tried = False  # the system socket tried an address already
        if path is not None:
            self._start_connect(path)
        elif family is not None:
            self._start_connect((host, port))
        else:
            threading.Thread(target=self._resolve, args=(host, port), daemon=True).start()
        return self

    def _resolve(self, host, port):
        """On the resolver thread: hand the outcome back to the loop."""
        try:
            outcome = []
            for family, socktype, proto, _, address in _socket.getaddrinfo(host, port, type=_socket.SOCK_STREAM):
                if (family, address) not in [(f, a) for f, _, _, a in outcome]:
                    outcome.append((family, socktype, proto, address))
        except OSError as exc:
            outcome = exc
        self.loop.call_soon_threadsafe(self._resolved, host, outcome)

    def _resolved(self, host, outcome):
        if self.destroyed:
            return
        if isinstance(outcome, OSError):
            code = "ENOTFOUND" if isinstance(outcome, _socket.gaierror) else \
                errno.errorcode.get(outcome.errno or 0, "EAI_FAIL")
            self._connect_error(HTTPError(code, f"getaddrinfo {code} {host}"))
            return
        self._addresses = outcome
        self._next_address()

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
            self.remote_family = _FAMILIES.get(family)
        self._tried = True
        self.remote_address, self.remote_port = address[0], address[1]
        self._start_connect(address)

    def _start_connect(self, address):
        sock = self._sock
        if sock.family != _socket.AF_UNIX:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        code = sock.connect_ex(address)
        if code in (0, errno.EINPROGRESS, errno.EAGAIN):
            self._writer = True  # registered: destroy() while connecting takes it off the loop
            self.loop.add_writer(self._fd, self._connected)
        else:
            self.loop.call_soon(self._connect_failed, code)

    def _connected(self):
        self._writer = False
        self.loop.remove_writer(self._fd)
        code = self._sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if code:
            self._connect_failed(code)
            return
        self.connecting = False
        self.last_activity = monotonic()
        self.resume()
        self.emit("connect")
        self.emit("ready")  # (Node's: right after 'connect')
        if not self._writer and not self.destroyed:
            self._flush()  # what was written while connecting, and its flush waiters

    def _connect_failed(self, code):
        if self._addresses and not self.destroyed:  # a name's next address (Node's autoSelectFamily)
            self._next_address()
            return
        name = errno.errorcode.get(code, "ECONNREFUSED")
        where = self._path if self._path is not None else f"{self.remote_address}:{self.remote_port}"
        self._connect_error(HTTPError(name, f"connect {name} {where}"))

    def _connect_error(self, err):
        self.writable = False
        if self.protocol is not None:
            self.protocol.connection_error(err)
        self.destroy(err if self.protocol is None else None)
