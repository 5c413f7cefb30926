"""ASGI 3.0 on the event server: requests, WebSocket upgrades and the lifespan.

Rules:
- ``setup(server)`` listens for ``request``, ``checkContinue`` and ``upgrade``. Each
  request and each WebSocket runs the app in a task of its own; the adapter keeps the
  running tasks (so none is collected mid-flight); a task leaves the set as it ends.
- Scopes are built from the request as the server parsed it (see ``scope.py``):
  ``headers`` are its header lines in order, names lower-cased, as bytes; ``state`` is
  a shallow copy of the lifespan state, per request.
- An HTTP scope is a copy of its connection's template (the fields that do not change
  between its requests: ``server``, ``client``, ``scheme``...) with the request's own
  fields set. A template goes when its socket's server connection (``socket.protocol``)
  is freed, once it closes (a weak reference), not by a 'close' listener: a listener
  is an attribute of the socket's, and one more than CPython 3.11's compact layout
  keeps (29 names) gives every socket a dict of its own, its methods looked up on every
  request the slow way (see ``scope.py``); on TLS, a ``tls.TLSTemplate``, whose copies
  get an ``extensions`` dict of their own. Each scope has an ``asgi`` dict of its own
  (an app or middleware writing into it changes no other scope, as under uvicorn, which
  builds one per scope). Converted request targets and header names (up to ``_KEPT_LENGTH``
  characters), and the response header lists apps send, are remembered per adapter,
  ``_KEPT`` of each at most (a full table is emptied, or no longer grows), so repeated
  requests skip the conversions.
- Without a task factory on the loop (looked at on setup and after the lifespan
  startup) request tasks are made as ``loop.create_task`` makes them, without its
  per-call checks; with one, through ``loop.create_task``.
- An upgrade to anything but ``websocket`` (``curl --http2``'s ``Upgrade: h2c``, say)
  is served as a plain HTTP request: the server asks ``should_upgrade_callback`` before
  it hands the socket over. A WebSocket upgrade that is not a GET is answered 400.
- ``CONNECT`` is answered 400 and the connection closed, never given to the app: ASGI
  has no tunnel, and a 2xx from an app would tell the client that the connection is
  now one (RFC 9110 9.3.6). uvicorn answers a CONNECT to an authority (the only form
  RFC 9112 3.2.3 allows) with a 400 too, with a text body and ``Connection: close``.
  That 400, and the one of an upgrade that is no WebSocket handshake, are access log
  lines (``server.reply_observer``), as the server's own answers are.
- ``drain()`` closes open WebSockets with 1012 so the server's drain can finish. The
  drain is bounded by ``lifespan_timeout`` (the worker's ``graceful_timeout``, after
  which the master kills it); its last quarter (at most ``_SHUTDOWN_RESERVE`` seconds)
  is kept for the lifespan shutdown, when one will run (``shutdown_reserve``): app
  tasks still running then are cancelled. Without one, only the exit margin and the
  tasks' unwind (below) are kept: the tasks are cancelled an unwind before the
  worker's loop ends, so their cleanup still runs before the worker exits.
- ``shutdown()`` (the loop has stopped serving) first waits for the app tasks still
  running (background tasks that run after their response, sessions closing) until
  that reserve, cancels what is left and gives it a quarter of the lifespan's reserve
  (at most ``_UNWIND`` seconds, ``unwind_time``) to run its cleanup. A task cancelled at the reserve that still
  runs when its unwind is over (a sync endpoint in a thread cannot be cancelled, a
  shielded cleanup), or a connection still open then while the app waits for its
  lifespan shutdown (a WebSocket client that never answers the 1012, a slow
  reader), holds the drain: the worker is told to stop serving then
  (``drain(give_up)``), so the lifespan shutdown still gets its time. Then it runs
  the lifespan shutdown in the time that remains but an exit margin
  (an eighth of the bound, at most ``_EXIT_MARGIN`` seconds): a lifespan shutdown that
  does not finish is given up (logged, its task cancelled) before the master's kill,
  so the worker exits on its own. Without a drain (a fast stop) the tasks are
  cancelled at once. A cancelled task is not logged as
  the app's failure; the cancelling is logged once.
- The WebSocket module (wsproto, hashlib) is imported with this one, when the worker
  loads the app, not at the first upgrade (after the worker dropped its privileges, to
  a user who may not read the interpreter's modules). When that import fails, the
  worker says so at boot (an error, with the cause and the user) and every WebSocket
  handshake is answered 500, rather than closed unanswered; HTTP is served. Without
  wsproto installed, each handshake fails as it comes (logged, the connection closed).
- The app is never called inside the parser: tasks take their first step on a later
  loop turn.
"""

import asyncio
import logging
import os
from asyncio import Task
from weakref import ref

from ..net.proxy import TrustedSources
from ..server.replies import refuse
from .http import HTTPCycle
from .lifespan import Lifespan
from .scope import client_and_scheme, ends, split_target
from .tls import TLSTemplate
from .tls import extension as tls_extension

WEBSOCKET_FAILURE = None  # why the WebSocket module could not be imported, when it could not
try:  # at load, with the app's modules, not at the first upgrade (see the rules)
    from .websocket import WebSocketSession
except (ImportError, OSError) as exc:
    WebSocketSession = None
    if not (isinstance(exc, ModuleNotFoundError) and exc.name == "wsproto"):  # (no wsproto: not said here)
        WEBSOCKET_FAILURE = f"{type(exc).__name__}: {exc}"

log = logging.getLogger("prefork.asgi")

_SHUTDOWN_RESERVE = 5.0  # seconds of the drain kept for the lifespan shutdown, at most
_UNWIND = 1.0  # seconds cancelled app tasks get for their cleanup
_EXIT_MARGIN = 0.5  # seconds of the drain's bound left for the worker's exit, at most
_KEPT = 256  # remembered request targets and header names
_KEPT_LENGTH = 256  # longer targets and names are converted each time
_ASGI_WEBSOCKET = ("3.0", "2.4")


class ASGIAdapter:
    def __init__(self, app, *, root_path="", url_scheme="http", forwarded_allow_ips=("127.0.0.1", "::1"),
                 lifespan="auto", lifespan_timeout=30.0, ws_max_size=16 * 1024 * 1024, ws_ping_interval=20.0,
                 ws_ping_timeout=20.0, ws_per_message_deflate=True, ws_close_timeout=5.0, server_cert=None):
        self.app = app
        self.server_cert = server_cert  # the TLS extension's: the PEM the listeners send (tls.py)
        self.root_path = root_path.rstrip("/")
        self.url_scheme = url_scheme
        allow = forwarded_allow_ips
        if isinstance(allow, str):
            allow = [a.strip() for a in allow.split(",") if a.strip()]
        self.forwarded_allow_ips = frozenset(allow or ())
        self.trusted = TrustedSources(self.forwarded_allow_ips)
        self.state = {}
        self.lifespan = Lifespan(app, self.state, lifespan)
        self.lifespan_timeout = lifespan_timeout
        self.ws_max_size = ws_max_size
        self.ws_ping_interval = ws_ping_interval or 0
        self.ws_ping_timeout = ws_ping_timeout or 0
        self.ws_per_message_deflate = ws_per_message_deflate
        self.ws_close_timeout = ws_close_timeout
        self.tasks = set()
        self.heads = {}  # the response header lists seen, as HeaderBlocks
        self.targets = {}  # request target: (path, raw_path, query_string)
        self.names = {}  # request header name: the scope's lower-cased bytes
        self.templates = {}  # open connection's socket: the fields its HTTP scopes share
        self.watches = {}  # the same sockets: a weak reference to its server connection, which drops both
        self.websockets = set()
        self.loop = None
        self.plain_tasks = True  # the loop has no task factory
        self.drain_deadline = None  # loop time the master's bound on the drain ends at
        self.cancel_timer = None
        self.cancelling = False  # app tasks are being cancelled: their CancelledError is expected
        self.cancelled = set()  # the tasks cancelled so far

    def setup(self, server):
        self.server = server
        self.loop = server.loop
        self.plain_tasks = self.loop.get_task_factory() is None
        server.on("request", self.on_request)
        server.on("checkContinue", self.on_check_continue)
        server.on("upgrade", self.on_upgrade)
        server.on("connect", self.on_connect)
        server.should_upgrade_callback = is_websocket_upgrade
        server.unique_host_header = True  # two Host fields: a 400 (RFC 9112 3.2), as under WSGI
        if WEBSOCKET_FAILURE is not None:
            log.error("WebSocket support could not be loaded (%s): WebSocket handshakes are answered 500; "
                      "can the worker's user (uid %d) read the interpreter's modules?", WEBSOCKET_FAILURE, os.getuid())
        return self

    # -- lifespan ----------------------------------------------------------------------------
    async def startup(self):
        """Run the app's lifespan startup; raises LifespanFailed when it fails."""
        await self.lifespan.startup()
        self.plain_tasks = self.loop.get_task_factory() is None  # the startup may have set a factory

    async def shutdown(self):
        """The app tasks finish (or are cancelled), then the lifespan shutdown runs."""
        loop = self.loop
        if self.cancel_timer is not None:
            self.cancel_timer.cancel()
            self.cancel_timer = None
        deadline = self.drain_deadline
        running = [task for task in self.tasks if not task.done()]
        if running and deadline is not None and not self.stopped_now:  # (a fast stop cancels them at once)
            wait = deadline - self.shutdown_reserve() - loop.time()
            if wait > 0:
                await asyncio.wait(running, timeout=wait)
        cancelled = self.cancel_tasks()
        if cancelled:
            wait = self.unwind_until - loop.time()  # (what is left of their unwind)
            if deadline is not None:
                wait = min(wait, deadline - self.exit_margin() - loop.time())
            if wait > 0:
                await asyncio.wait(cancelled, timeout=wait)
        if deadline is None:
            timeout = self.lifespan_timeout
        else:  # ends before the master's kill, so the worker still exits on its own and says why
            timeout = max(deadline - self.exit_margin() - loop.time(), 0.1)
        await self.lifespan.shutdown(timeout)

    def drain(self, give_up=None):
        """The worker drains; ``give_up()`` stops its serving run early, when app tasks
        cancelled at the reserve, or connections a lifespan shutdown waits behind, are
        still there once the unwind is over (``unwound``)."""
        if self.drain_deadline is None and self.loop is not None:
            loop = self.loop
            self.drain_deadline = loop.time() + self.lifespan_timeout
            self.give_up = give_up
            self.cancel_timer = loop.call_later(self.lifespan_timeout - self.shutdown_reserve(), self.at_reserve)
        for session in list(self.websockets):
            session.shutdown()

    def stop_now(self, bound):
        """A fast stop: the master kills the worker ``bound`` seconds from now; the app
        tasks are cancelled at once and the lifespan shutdown is given up before that."""
        self.stopped_now = True
        if self.loop is not None:
            deadline = self.loop.time() + bound
            if self.drain_deadline is None or deadline < self.drain_deadline:
                self.drain_deadline = deadline

    stopped_now = False  # a fast stop came (stop_now)

    def shutdown_reserve(self):
        """Seconds at the drain's end kept for the lifespan shutdown. When none will run
        (``lifespan = "off"``, an app that does not speak it, or whose lifespan has
        ended), the app tasks run until an unwind before the worker's loop ends (the exit
        margin), so a task cancelled then still runs its cleanup before the exit."""
        if not self.lifespan.awaits_shutdown():
            return self.exit_margin() + self.unwind_time()
        return self.lifespan_reserve()

    def lifespan_reserve(self):
        """The last quarter of the drain's bound (at most ``_SHUTDOWN_RESERVE`` seconds)."""
        return min(self.lifespan_timeout / 4, _SHUTDOWN_RESERVE)

    def exit_margin(self):
        """What is left of the drain's bound after the lifespan shutdown: the worker's exit."""
        return min(self.lifespan_timeout / 8, _EXIT_MARGIN)

    def unwind_time(self):
        """Seconds a cancelled app task gets for its cleanup: a quarter of the lifespan's
        reserve (at most ``_UNWIND``), whether or not a lifespan shutdown will run."""
        return min(self.lifespan_reserve() / 4, _UNWIND)

    def cancel_tasks(self):
        """Cancel the app tasks still running (once each: a second cancel would cut
        their cleanup short); the list of those not done yet."""
        self.cancel_timer = None
        running = [task for task in self.tasks if not task.done()]
        fresh = [task for task in running if task not in self.cancelled]
        if fresh:
            log.warning("cancelling %d ASGI task(s) still running as the worker stops", len(fresh))
            self.cancelling = True
            self.unwind_until = self.loop.time() + self.unwind_time()
            for task in fresh:
                task.cancel()
                self.cancelled.add(task)
        return running

    def at_reserve(self):
        if self.cancel_tasks() or self.held_open():
            self.loop.call_later(self.unwind_time(), self.unwound)

    def held_open(self):
        """Connections still open at the reserve that keep a lifespan shutdown waiting."""
        return self.server.open_connections if self.lifespan.awaits_shutdown() else 0

    def unwound(self):
        running = sum(1 for task in self.tasks if not task.done())
        held = self.held_open()
        if (running or held) and self.give_up is not None:
            log.warning("%d cancelled ASGI task(s) still running, %d connection(s) open; the worker stops "
                        "serving now, so that the lifespan shutdown runs in time", running, held)
            self.give_up()

    unwind_until = 0.0  # when the cancelled tasks' unwind is over (loop time)
    give_up = None  # drain()'s

    # -- HTTP --------------------------------------------------------------------------------
    def scope(self, req, kind, scheme, version):
        url = req.url
        path, raw_path, query = self.targets.get(url) or self.split(url)
        root = self.root_path
        socket = req.socket
        headers = req.all_headers  # (every field: also past max_headers_count's cut)
        server, client = ends(socket)
        if "x-forwarded-for" in headers or "x-forwarded-proto" in headers:
            client, scheme = client_and_scheme(req, scheme, self.trusted)
        raw = req.all_raw_headers  # (every line, as uvicorn passes them: also past max_headers_count)
        return {
            "type": kind,
            "asgi": {"version": version[0], "spec_version": version[1]},
            "http_version": scope_version(req.http_version),
            "server": server,
            "client": client,
            "scheme": scheme,
            "method": req.method,
            "root_path": root,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": scope_headers(raw),
            "state": self.state.copy(),
        }

    def http_scope(self, req, headers):
        """The scope of an HTTP request: ``scope()`` made lean for the common case, a
        copy of its connection's scope template with the request's fields set."""
        url = req.url
        target = self.targets.get(url)
        if target is None:
            target = self.split(url)
        socket = req.socket
        scope = self.templates.get(socket)
        scope = (self.connection_template(socket) if scope is None else scope).copy()
        if "x-forwarded-for" in headers or "x-forwarded-proto" in headers:
            scope["client"], scope["scheme"] = client_and_scheme(req, scope["scheme"], self.trusted)
        scope["asgi"] = {"version": "3.0", "spec_version": "2.3"}  # a dict of its own: the app may write into it
        version = req.http_version
        scope["http_version"] = version if version == "1.1" or version == "1.0" else scope_version(version)
        scope["method"] = req.method
        scope["path"], scope["raw_path"], scope["query_string"] = target
        # every line, as uvicorn passes them (also past max_headers_count's cut: all_raw_headers)
        scope["headers"] = scope_headers(req.raw_headers if req.all_headers is req.headers else req.all_raw_headers,
                                         self.names)
        state = self.state
        scope["state"] = state.copy() if state else {}
        return scope

    def split(self, url):
        """(path, raw_path, query_string) of a request target, root path applied, a
        ``#fragment`` dropped (as uvicorn does); the last ``_KEPT`` distinct targets are
        remembered (all forgotten when full)."""
        target = url.partition("#")[0] if "#" in url else url  # a fragment is the client's own
        if target[:1] == "/" and "%" not in target and target.isascii():  # nothing to decode
            path, _, query = target.partition("?")
            raw_path = path.encode("ascii")
            query = query.encode("ascii")
        else:
            path, raw_path, query = split_target(target)
        root = self.root_path
        if root:
            path = root + path
            raw_path = root.encode("latin-1") + raw_path
        target = (path, raw_path, query)
        if len(url) <= _KEPT_LENGTH:
            targets = self.targets
            if len(targets) >= _KEPT:
                targets.clear()
            targets[url] = target
        return target

    def connection_template(self, socket):
        """The fields every HTTP scope of a connection shares (``server``, ``client``...),
        kept until its server connection is freed."""
        server, client = ends(socket)
        template = {
            "type": "http",
            "asgi": None,
            "http_version": "1.1",
            "server": server,
            "client": client,
            "scheme": "https" if socket.encrypted else self.url_scheme,
            "method": "GET",
            "root_path": self.root_path,
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": None,
            "state": None,
        }
        if socket.encrypted:  # the TLS extension, read once per connection (spec: on TLS only)
            template = TLSTemplate(template, tls_extension(socket, self.server_cert))
        owner = socket.protocol  # (None: a socket closed already, whose entry would never go)
        if owner is not None:
            templates, watches = self.templates, self.watches
            watches[socket] = ref(owner, lambda _: (templates.pop(socket, None), watches.pop(socket, None)))
            templates[socket] = template
        return template

    def on_request(self, req, res):
        fields = req.all_headers  # (the framing fields may be past max_headers_count's cut)
        length = fields.get("content-length")
        cycle = HTTPCycle(req, res, self, (length is not None and length != "0") or "transfer-encoding" in fields)
        coro = cycle.run(self.app, self.http_scope(req, fields), self.tasks)
        # what loop.create_task does without a task factory, minus its checks (the loop runs)
        task = cycle.task = Task(coro, loop=self.loop) if self.plain_tasks else self.loop.create_task(coro)
        self.tasks.add(task)
        return cycle

    def on_check_continue(self, req, res):
        self.on_request(req, res).expect = True

    def on_connect(self, req, socket, head):
        refuse(self.server, req, socket, 400, "CONNECT is not supported.")

    # -- WebSocket ---------------------------------------------------------------------------
    def on_upgrade(self, req, socket, head):
        if req.method != "GET" or not is_websocket_upgrade(req):
            refuse(self.server, req, socket, 400, "Unsupported upgrade request.")  # RFC 6455 4.2.1: a GET
            return
        if WEBSOCKET_FAILURE is not None:
            refuse(self.server, req, socket, 500, "WebSocket support is unavailable.")
            return
        if WebSocketSession is None:  # (wsproto is not installed: this raises, the server closes the socket)
            from .websocket import WebSocketSession as session_class
        else:
            session_class = WebSocketSession
        scheme = "wss" if socket.encrypted or self.url_scheme == "https" else "ws"
        scope = self.scope(req, "websocket", scheme, _ASGI_WEBSOCKET)
        del scope["method"]
        scope["http_version"] = "1.1"
        scope["subprotocols"] = subprotocols(req.all_headers.get("sec-websocket-protocol"))  # (also past the cut)
        scope["extensions"] = {"websocket.http.response": {}}
        if socket.encrypted:
            scope["extensions"]["tls"] = tls_extension(socket, self.server_cert)
        session = session_class(self, req, socket, scope)
        if session.start(head):
            self.websockets.add(session)
            task = self.loop.create_task(session.run(self.app))
            session.task = task
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def is_websocket_upgrade(req):
    """Whether the upgrade request ``req`` asks for a WebSocket (a ``websocket`` protocol
    in its ``Upgrade`` list, in any case): it leaves HTTP (a handshake that is not a GET
    gets a 400); any other upgrade (``h2c`` from ``curl --http2``, say) is served as a
    plain HTTP request, as uvicorn and Node (with no ``upgrade`` listener) serve it."""
    return any(token.strip(" \t").partition("/")[0].lower() == "websocket"
               for token in req.all_headers.get("upgrade", "").split(","))  # (also past the cut)


def scope_headers(raw, names=None):
    """The scope's ``headers`` from the request's raw header list: (lower-cased name,
    value) as latin-1 bytes, in order. ``names`` remembers converted names (up to
    ``_KEPT`` of them)."""
    headers = []
    fields = iter(raw)
    if names is None:
        for name in fields:
            headers.append((name.lower().encode("latin-1"), next(fields).encode("latin-1")))
        return headers
    for name in fields:
        key = names.get(name)
        if key is None:
            key = name.lower().encode("latin-1")
            if len(names) < _KEPT and len(name) <= _KEPT_LENGTH:
                names[name] = key
        headers.append((key, next(fields).encode("latin-1")))
    return headers


def subprotocols(header):
    if not header:
        return []
    if isinstance(header, list):
        header = ",".join(header)
    return [p.strip() for p in header.split(",") if p.strip()]


def scope_version(version):
    """The scope's ``http_version`` for a request line's: the spec knows "1.0", "1.1" and
    "2" only, and a request line read here is HTTP/1 whatever it says: "HTTP/2.0" or
    "HTTP/1.2" is served as 1.1 (an app must not take it for HTTP/2), "HTTP/0.9" as 1.0."""
    if version == "1.1" or version == "1.0":
        return version
    major, _, minor = version.partition(".")
    return "1.0" if (int(major), int(minor or 0)) < (1, 1) else "1.1"
