"""Agent: a keep-alive socket pool per host:port, with Node's defaults (seconds). Its
line and hand-overs (when a request counts, Node's): client/agentline.py; the hooks
client code overrides: client/agenthooks.py.

The agent's numbers are checked as it is made (``timeout`` as client/sockopts.py's
``timer_seconds``, where Node throws at its first request; the others: client/pooled.py).
An idle socket waits in the pool for ``timeout`` seconds (5 when not given); a
``timeout`` given (the global agent's 5 s) is also the idle timeout of a socket in use,
whose request gets ``timeout`` (Node's agent sets it on its sockets); requests over ``max_sockets``
for one host:port wait in line, as do those over ``max_total_sockets`` (Node's
``maxTotalSockets``: open sockets of every host:port, free ones included; a free one
of another host:port is closed to make room rather than kept while a request waits,
where Node's request waits for it to close); a slot that frees up serves the
request's own host:port first, then the first other one in line; ``scheduling`` picks the most (lifo) or least (fifo)
recently used free socket; a request destroyed while it waits in line is dropped from
it, never sent. A keep-alive agent's new connection has TCP keep-alive probes
(``keep_alive_initial_delay``, Node's ``keepAliveMsecs``) from its connect on, as Node's,
so a request that waits long on a peer that vanished is not kept for ever. A free socket waits at most a second less than the server's
``Keep-Alive: timeout=N`` hint, and is not pooled at all when that leaves nothing.
A request in line takes the socket of the response that ends before
it, kept alive or not (``reused_socket`` stays False, as in Node), or, when that socket
closes, a new connection. A free socket that the server closes or resets, or sends
bytes on while no request is out, is destroyed and leaves the pool, its error (a
reset's) dropped (as Node's agent does; from the end of its exchange on, before the
agent takes it on the next turn: ``freed``), so
the next request takes a new connection instead of hanging on a dead one. The agent
emits ``free`` (socket, options) for every kept-alive exchange that ends, once it has
pooled the socket, handed it on or closed it, as Node's. New connections are made by
``create_connection(options)`` (Node's ``createConnection``; replaceable), and
``keep_socket_alive(socket)`` and ``reuse_socket(socket, req)`` are Node's hooks of those
names (client code overrides them): a ``reuse_socket`` that raises fails its request
with that error (``error``, ``close``; Node's ``http.get()`` throws it) and closes the
socket, the pool's counts as they were; a ``keep_socket_alive`` that raises is logged
and counts as False (the socket closed). A socket
that cannot be made at all (EMFILE) fails its request with that code (``error``, then
``close``) and takes no slot in the pool. The pool serves one event loop at a time (a
worker's, for its life): a request on another loop (``asyncio.run()`` again, a new
loop per test) makes the agent let go of the old loop's pool, whose sockets only that
loop can drive (free ones closed, and those in use too when that loop is closed), and
start its counts and its line afresh.
"""

import logging
import re
import weakref
from collections import deque

from ..emitter import EventEmitter
from ..net import Socket
from .agenthooks import AgentHooks
from .agentline import AgentLine
from .optnames import refused
from .pooled import PoolHooks, check_numbers, pool_name, total_limit
from .port import connect_port
from .sockopts import timer_seconds

log = logging.getLogger("prefork.client")

_TIMEOUT_HINT = re.compile(r"timeout=(\d+)")
_OPTIONS = frozenset(("keep_alive", "keep_alive_initial_delay", "max_sockets", "max_free_sockets", "timeout",
                      "scheduling", "max_total_sockets"))


class Agent(AgentLine, AgentHooks, EventEmitter):
    """Keep-alive socket pool per host:port, with Node's defaults (times in seconds)."""

    default_port = 80  # Node's agent.defaultPort: a request's port when it gives none (settable)
    protocol = "http:"

    def __init__(self, keep_alive=True, keep_alive_initial_delay=1.0, max_sockets=None, max_free_sockets=256,
                 timeout=None, scheduling="lifo", max_total_sockets=None, **unknown):
        if unknown:  # (a Node-spelled name is told prefork's: keep_alive_msecs is keep_alive_initial_delay)
            raise refused("Agent", unknown, _OPTIONS)
        if hasattr(keep_alive, "keys"):  # Node's options object: its names are these arguments' (max_sockets=...)
            if set(keep_alive) - _OPTIONS:
                raise refused("Agent", set(keep_alive) - _OPTIONS, _OPTIONS)
            beside = {"keep_alive_initial_delay": keep_alive_initial_delay, "max_sockets": max_sockets,
                      "max_free_sockets": max_free_sockets, "timeout": timeout, "scheduling": scheduling,
                      "max_total_sockets": max_total_sockets}  # (in the signature's order)
            defaults = dict(zip(beside, Agent.__init__.__defaults__[1:]))
            # (Agent's own __init__, not a subclass's, which ran already; an argument given beside the mapping wins)
            Agent.__init__(self, **{**keep_alive, **{k: v for k, v in beside.items() if v != defaults[k]}})
            return
        scheduling = scheduling or "lifo"  # (Node's ``|| 'lifo'``)
        if scheduling not in ("lifo", "fifo"):  # (Node throws; any other word is no order)
            err = ValueError(f"The argument 'scheduling' must be one of: 'fifo', 'lifo'. Received {scheduling!r}")
            err.code = "ERR_INVALID_ARG_VALUE"
            raise err
        self.max_total_sockets = total_limit(max_total_sockets)
        check_numbers(max_sockets=max_sockets, max_free_sockets=max_free_sockets,
                      keep_alive_initial_delay=keep_alive_initial_delay)
        timeout = None if timeout is None else timer_seconds(timeout, "timeout")
        self.keep_alive = keep_alive
        self.keep_alive_initial_delay = keep_alive_initial_delay
        # Node's ``|| default``: 0 (or None) sockets is no limit, 0 free sockets is 256
        self.max_sockets = max_sockets or None
        self.max_free_sockets = max_free_sockets or 256
        # a timeout given is every socket's idle timeout, in use too (a request on it gets
        # 'timeout'), as Node's agent sets it on the sockets it makes; without one a
        # free socket still waits at most 5 s in the pool
        self.socket_timeout = timeout or None
        self.timeout = 5.0 if timeout is None else timeout
        self.scheduling = scheduling
        self.free_sockets = {}  # key -> [Socket]
        self.sockets = {}  # key -> count in use
        self.requests = {}  # key -> deque of waiting ClientRequests
        self._hooked = weakref.WeakSet()  # pooled sockets that have the pool's close hook
        self._opened = weakref.WeakSet()  # every socket this agent connected, for destroy()
        self._closing = weakref.WeakKeyDictionary()  # requests whose destroyed socket counts until its close
        self._loop = None  # the loop the pool's sockets are driven by

    def key(self, req):
        """The pool a request's socket belongs to: ``host:port``, then the UNIX socket's
        path when it has one, the ``local_address`` and ``family`` (4 or 6) when given (Node's
        agent names it so too: a socket bound elsewhere is another pool's)."""
        return pool_name(req.host, req.port, req.socket_path, req.local)

    def get_name(self, options=None):
        """Node's ``agent.getName(options)``: the key of ``sockets``, ``free_sockets`` and
        ``requests`` that a request of these options (``hostname``, else ``host``, else
        localhost, as the request connects; ``port``, else ``default_port``; ``socket_path``, ``local_address``,
        ``family``) is pooled under. (Node's names end in ":" and the local address;
        prefork's leave out what was not given.)"""
        options = options or {}
        local = {name: options[name] for name in ("local_address", "family") if options.get(name) is not None}
        port, default = options.get("port"), options.get("default_port") or self.default_port
        try:  # as the request takes it (a UNIX socket's as given; a bad one named as given too)
            port = (port or default or 80) if options.get("socket_path") else connect_port(port, default)
        except (TypeError, ValueError):
            port = port or default
        return pool_name(options.get("hostname") or options.get("host") or "localhost", port,
                         options.get("socket_path"), local)

    def add_request(self, req, options=None):
        """Node's ``agent.addRequest``, called inside ``request()``: ``req`` counts in the
        pool at once (a socket taken or being made for it, or its place in line), and
        gets that socket (``socket``) on the next turn."""
        self._add(req, later=True)

    def _add(self, req, later):
        if req.loop is not self._loop:
            self._follow(req.loop)
        key = self.key(req)
        free = self.free_sockets.get(key)
        while free:
            socket = free.pop() if self.scheduling == "lifo" else free.pop(0)
            if socket.destroyed:
                continue
            socket.set_timeout(0)
            socket.remove_all_listeners("timeout")  # the pool's idle timer is not the request's
            self.tidy(key)
            try:
                self.reuse_socket(socket, req)
            except Exception as exc:  # the hook's error is the request's; the pool's counts unchanged
                socket.destroy()  # (half handed over: neither the pool's nor the request's)
                req.connect_failed(exc)
                self._slot_freed(req.loop, key)
                return
            self.sockets[key] = self.sockets.get(key, 0) + 1
            if later:
                req.loop.call_soon(self._give, req, socket)
            else:
                req.assign_socket(socket, reused=True)
            return
        self.tidy(key)
        if not self._room(key):
            self.requests.setdefault(key, deque()).append(req)
            return
        self.sockets[key] = self.sockets.get(key, 0) + 1  # (its slot, from now on: Node's)
        if later:  # connected on the next turn, with its 'socket'; never, when it is destroyed by then
            req.loop.call_soon(self._connect, req, key)
        else:
            self._connect(req, key)

    def _connect(self, req, key):
        """A new connection for ``req``, whose slot counts already; ``req`` gets it."""
        if self._elsewhere(req):
            return
        if req.destroyed:  # its slot goes to the next in line, on the next turn (Node's: its socket is 'free')
            waiting = self.requests.get(key)
            while waiting and waiting[0].destroyed:
                waiting.popleft()
            if waiting:
                following = waiting.popleft()
                self.tidy(key)
                req.loop.call_soon(self._connect, following, key)
                return
        try:
            if req.destroyed:
                raise _Dropped
            socket = self.create_connection({"host": req.host, "port": req.port, "socket_path": req.socket_path,
                                             "loop": req.loop, **req.local})
            if not isinstance(socket, Socket):
                err = TypeError(f"create_connection must return a prefork.net.Socket, not {type(socket).__name__}")
                err.code = "ERR_INVALID_RETURN_VALUE"
                raise err
        except Exception as exc:  # no socket to be had (EMFILE, ENFILE, ENOBUFS; what create_connection raised)
            self.sockets[key] = max(0, self.sockets.get(key, 1) - 1)
            self.tidy(key)
            if not isinstance(exc, _Dropped):
                req.connect_failed(exc)
            self._slot_freed(req.loop, key)  # the slot is free for the next
            return
        self._opened.add(socket)
        if self.keep_alive:  # TCP keep-alive probes from the connect on (Node's agent asks for them)
            delay = self.keep_alive_initial_delay
            if socket.connecting:
                socket.once("connect", lambda: socket.set_keep_alive_idle(delay))
            else:
                socket.set_keep_alive_idle(delay)
        req.assign_socket(socket, reused=False)

    def _follow(self, loop):
        """Requests now come from ``loop``: the old loop's pool is let go (its free
        sockets closed; a closed loop's sockets in use too, by their descriptors, as
        that loop can no longer run their close), its counts and line forgotten."""
        old, self._loop = self._loop, loop
        if old is None:
            return
        gone = old.is_closed()
        free = [socket for sockets in self.free_sockets.values() for socket in sockets]
        self.free_sockets.clear()
        self.sockets.clear()
        self.requests.clear()
        for socket in list(self._opened):
            if socket.loop is not old:
                continue
            if gone:
                self._opened.discard(socket)
                socket.close_fd()
            elif socket in free:
                socket.destroy()

    def _elsewhere(self, req, socket=None):
        """``req`` is of a loop the pool has left: its socket (if given) is closed, and
        nothing of the pool's is touched."""
        if req.loop is self._loop:
            return False
        if socket is not None and not socket.destroyed:
            if req.loop.is_closed():
                socket.close_fd()
            else:
                socket.destroy()
        return True

    def freed(self, socket):
        """``socket``'s exchange is over and the agent takes it on the next turn (pools it,
        hands it on or closes it): an error meanwhile (the server's reset after its
        answer) is dropped, as Node's freed socket's is, not reported as unhandled."""
        if _ignored not in socket.listeners("error"):
            socket.on("error", _ignored)

    def release(self, req, socket, reusable):
        """``req``'s kept-alive exchange is over: the agent takes ``socket`` (keeps it for
        the next request or drops it), then emits ``free`` (the socket, and the
        request's ``host``, ``port`` and ``socket_path``), as Node's agent does after its
        own ``free`` listener; a listener that raises is logged."""
        if self._elsewhere(req, socket):
            return
        self._release(req, socket, reusable)
        if not self.listener_count("free"):
            return
        try:
            self.emit("free", socket, {"host": req.host, "port": req.port, "socket_path": req.socket_path})
        except Exception:
            log.exception("error in an agent's 'free' listener")

    def _release(self, req, socket, reusable):
        key = self.key(req)
        self.sockets[key] = max(0, self.sockets.get(key, 1) - 1)
        waiting = self.requests.get(key)
        while waiting and waiting[0].destroyed:  # destroyed while in line: never sent
            waiting.popleft()
        if (reusable or (waiting and req.keeps_socket)) and not socket.destroyed \
                and not socket.look_for_reset():  # (uvloop: a reset that came with the response's end)
            if waiting:  # the next in line leaves it now, before 'free' (Node's own 'free' listener)
                self.sockets[key] += 1
                following = waiting.popleft()
                self.tidy(key)
                req.loop.call_soon(self._hand_over, req, socket, reusable, following)  # after req's close
                return
            free = self.free_sockets.setdefault(key, [])
            timeout = self._free_timeout(req)
            if len(free) < self.max_free_sockets and timeout is not None and not self._others_wait(key) \
                    and self._keeps(socket):
                free.append(socket)
                socket.protocol = None
                socket.remove_all_listeners("timeout")
                if socket not in self._hooked:  # one set of hooks per socket, not per reuse
                    self._hooked.add(socket)
                    PoolHooks(self, key, socket)
                socket.set_timeout(timeout, socket.destroy)
                socket.set_keep_alive_idle(self.keep_alive_initial_delay)
                self.tidy(key)
                return
        socket.destroy()
        self._slot_freed(req.loop, key)
        self.tidy(key)

    def _free_timeout(self, req):
        """How long a free socket waits in the pool: the agent's ``timeout``, shortened
        to one second under the server's ``Keep-Alive: timeout=N`` hint (so the client
        lets go first); None when that leaves nothing (N <= 1): not pooled. As Node's
        agent with a ``timeout`` (one without keeps a free socket with no limit)."""
        timeout = self.timeout or 0
        hint = _TIMEOUT_HINT.match(req.res.headers.get("keep-alive") or "") if req.res is not None else None
        if hint is not None:
            hinted = int(hint.group(1)) - 1
            if hinted <= 0:
                return None
            if hinted < timeout:
                timeout = hinted
        return timeout

    def remove_socket(self, req, socket):
        """``req``'s socket left HTTP for an ``upgrade`` or ``connect`` listener: it no
        longer counts in the pool, ``destroy()`` leaves it alone, and the next request
        in line (if any) takes a new connection (Node's ``agentRemove``)."""
        self._opened.discard(socket)
        socket.off("error", _ignored)  # the listener's socket: its errors are its own
        if self._elsewhere(req):
            return
        key = self.key(req)
        self.sockets[key] = max(0, self.sockets.get(key, 1) - 1)
        self._slot_freed(req.loop, key)
        self.tidy(key)

    def _room(self, key):
        """A new connection for ``key`` fits in the limits: under ``max_sockets`` for
        ``key``, and under ``max_total_sockets`` (a free socket of another host:port
        closed to make room when that is all that is in the way)."""
        if self.max_sockets is not None and self.sockets.get(key, 0) >= self.max_sockets:
            return False
        if self.max_total_sockets is None or self._total() < self.max_total_sockets:
            return True
        for other, free in self.free_sockets.items():
            if other != key and free:
                socket = free.pop(0)  # the least recently used
                self.tidy(other)
                socket.destroy()
                return True
        return False

    def _total(self):
        """The agent's open sockets (its pool's: in use and free) of every host:port."""
        return sum(self.sockets.values()) + sum(len(free) for free in self.free_sockets.values())

    def _others_wait(self, key):
        """Requests for another host:port than ``key`` wait for a slot under
        ``max_total_sockets``: a socket of ``key`` is not kept free in their way."""
        return self.max_total_sockets is not None and any(
            other != key and any(not req.destroyed for req in waiting) for other, waiting in self.requests.items())

    def tidy(self, key):
        """No entry of ``key`` is kept empty (no socket in use, none free, no request in
        line), as Node's agent deletes such names: a host:port asked once does not stay
        in the pool's maps for the life of the process."""
        if self.sockets.get(key) == 0:
            del self.sockets[key]
        if key in self.free_sockets and not self.free_sockets[key]:
            del self.free_sockets[key]
        if key in self.requests and not self.requests[key]:
            del self.requests[key]

    def destroy(self):
        """Node's ``agent.destroy()``: every socket of the agent is destroyed, free or in
        use (a request on one ends in ECONNRESET "socket hang up"); requests made later
        connect anew."""
        for socket in list(self._opened):
            if socket.loop.is_closed():  # (nothing can run its close: its descriptor goes)
                self._opened.discard(socket)
                socket.close_fd()
            else:
                socket.destroy()
        self.free_sockets.clear()


def request_agent(options):
    """The agent of a request's options, and whether it is a one-off (its socket closed
    after the exchange): the ``agent`` given; a one-off for ``agent=False``, or for a
    ``create_connection`` given without an agent (which makes its socket, as Node's
    option does); else the global agent."""
    agent = options.get("agent")
    if agent is None and callable(options.get("create_connection")):
        agent = Agent(keep_alive=False)
        agent.create_connection = options["create_connection"]
        return agent, True
    if agent is False:
        return Agent(keep_alive=False), True
    if agent is not None and not callable(getattr(agent, "add_request", None)):  # (Node's check)
        err = TypeError(f'The "options.agent" property must be an Agent-like object, None or False. Received {agent!r}')
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    return (global_agent if agent is None else agent), False


class _Dropped(Exception):
    """The request was destroyed before its connection was made: none is."""


def _ignored(err):
    """A free socket's error: it is destroyed and leaves the pool; nothing to report."""


global_agent = Agent(timeout=5.0)  # Node 20's global agent: keep-alive, lifo, a 5 s timeout
