"""The pieces of the Agent's pool (client/agent.py) that stand apart from it: the
listeners a pooled socket carries (``PoolHooks``; ``pool_listeners`` tells them from an
application's), the key a pool is named by
(``pool_name``) and the checks of its numbers (``total_limit``, ``check_numbers``).

Rules:
- A pooled socket gets one set of hooks for its life: a free one the server closes,
  or sends bytes on unasked, is destroyed; every hook leaves the socket at its
  ``close``, so a closed socket refers to nothing of the pool's.
- The Agent's numbers are checked as it is made: ``max_sockets``, ``max_free_sockets``
  and ``keep_alive_initial_delay`` numbers (or None), else ERR_INVALID_ARG_TYPE (a
  TypeError; Node coerces them, a str here failed inside the loop and the request hung).
- A pool's name is ``host:port``, then the UNIX socket's path when there is one, then
  the local address and family when either was given, as Node's ``getName`` names it:
  a family other than 4 or 6 (0: any), a ``lookup``, ``hints`` or ``local_port`` name
  no pool of their own (their requests share the sockets of those without them).
"""


class PoolHooks:
    """A pooled socket's listeners: the pool lets go of it when it closes; a free socket
    the server closes (FIN), or sends bytes on unasked, is done: the next request must
    not be written into it; and one it resets is destroyed with that error: dropped, not
    reported as unhandled (Node's agent drops it too); on a socket in use the error goes
    to the request through its protocol. At ``close`` they take themselves (and the
    pool's idle ``timeout`` listener) off the socket, which then refers to nothing of
    the pool's: a closed socket is freed by reference counting, not left in a cycle
    for the collector."""

    __slots__ = ("agent", "key", "socket")

    def __init__(self, agent, key, socket):
        self.agent = agent
        self.key = key
        self.socket = socket
        socket.on("close", self.on_close)
        socket.on("end", self.on_end)
        socket.on("data", self.on_data)
        agent.freed(socket)  # (its errors dropped, once)

    def free(self):
        """The pool's free sockets of this socket's host:port (an empty list when none)."""
        return self.agent.free_sockets.get(self.key, ())

    def on_close(self, had_error=False):
        socket = self.socket
        free = self.free()
        if socket in free:
            free.remove(socket)
            self.agent.tidy(self.key)
        socket.off("close", self.on_close)
        socket.off("end", self.on_end)
        socket.off("data", self.on_data)
        socket.off("timeout", socket.destroy)

    def on_end(self):
        if self.socket in self.free():
            self.socket.destroy()

    def on_data(self, data):
        if self.socket in self.free():
            self.socket.destroy()


def pool_listeners(socket):
    """How many of ``socket``'s ``data`` listeners are a pool's (``PoolHooks.on_data``,
    which does nothing while a request has the socket): 0 or 1."""
    for listener in socket.raw_listeners("data"):
        if type(getattr(listener, "__self__", None)) is PoolHooks:
            return 1  # (one set of hooks per socket)
    return 0


def pool_name(host, port, socket_path, local):
    key = f"{host}:{port}" if socket_path is None else f"{host}:{port}:{socket_path}"
    address = local.get("local_address") or ""
    family = local.get("family")
    family = family if family in (4, 6) and not isinstance(family, bool) else ""
    return key if not (address or family) else f"{key}:{address}:{family}"


def total_limit(value):
    """``max_total_sockets`` as Node's constructor checks ``maxTotalSockets``: a number
    of at least 1 (infinity too), or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        err = TypeError(f'The "maxTotalSockets" argument must be of type number. Received {value!r}')
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    if not value >= 1:  # (NaN too)
        err = ValueError(f'The value of "maxTotalSockets" is out of range. It must be >= 1. Received {value!r}')
        err.code = "ERR_OUT_OF_RANGE"
        raise err
    return None if value == float("inf") else value


def check_numbers(**values):
    """Each of ``values`` a number or None (see Rules)."""
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            err = TypeError(f'The "{name}" argument must be of type number. Received {value!r}')
            err.code = "ERR_INVALID_ARG_TYPE"
            raise err
