"""The master's service-manager and monitoring duties: the systemd watchdog and the
operations endpoints on ``metrics_bind`` (an event server on the master's own loop: no
thread): ``/metrics`` (Prometheus), ``/healthz`` (live), ``/readyz`` (ready), ``/status``
(a page for people) and ``/status.json``.

Rules:
- The endpoints answer from the master's state alone; they never wait on a worker.
- The listener is handed over across a USR2 re-exec like the serving ones (whatever
  the form of ``metrics_bind``), so the new master answers on the very socket: a probe
  meanwhile waits in its backlog, never refused. Before the exec the endpoints stop
  accepting and answer the requests they hold (``quiesce``, up to ``QUIESCE_LIMIT``
  seconds), so no probe in flight is reset by the exec.
- The listener stays open while the daemon drains, so a probe reads 503 (not a refused
  connection) until the master exits.
- The endpoints share the master's loop and its descriptors with the supervision of the
  workers, so no client may hold them: at most ``MAX_CONNECTIONS`` connections are open
  at once, a request head or a whole request gets ``REQUEST_TIMEOUT`` seconds, an idle
  connection ``IDLE_TIMEOUT``. At the limit, room is made for a new connection by
  closing one (``make_room``): of the address holding the most connections if it holds
  more than the new one's would, else any idle for ``EVICT_AFTER`` seconds, another
  address's first, the one idle longest; else, when the new one's address holds some
  (local clients all come from 127.0.0.1), its own connection held longest: the
  address keeps its share and takes none of another's. Failing all of these (many
  addresses, one busy connection each), the one held longest goes (one not being
  answered first): many addresses asking once a second cannot keep a probe out. Idle: no byte read or written for that long, or no
  request (head) received for that long while none is being answered: a connection
  trickling a head byte by byte is idle however often its bytes come.
  Connections held open, by one client or many (silent, or trickling heads), thus do
  not keep a probe out, from another address or from the same one, and a connection
  that had a request within the last second or is being answered (a probe) is closed
  only for an address holding fewer, or for a newcomer of its own address.
- A path is routed whatever the form of the request target (origin or absolute) and
  its query string; every answer, /metrics included, carries ``Cache-Control: no-store``
  and its ``Content-Length``, a HEAD's as its GET's.
- No endpoint takes a body: a request whose body is still coming when it is answered
  gets ``Connection: close``, and its connection is closed as soon as the answer is in
  the kernel, the rest of the body unread (the master does not spend its loop reading a
  body nobody asked for; a client streaming one would otherwise be read for up to
  ``REQUEST_TIMEOUT`` and a close's linger). ``Expect: 100-continue`` gets no ``100
  Continue`` (``checkContinue`` is heard): the answer comes at once, as nginx's to a GET.
- Requests are answered in turns (``Answers``), not as they are read: each connection in
  turn gets one answer, for at most ``TURN_BUDGET`` seconds per loop turn, and the loop
  looks at its other events (signals, exits, heartbeats) between turns. Pipelined
  requests on many connections would otherwise all be answered in the turn that read
  them (up to 64 per connection, each /metrics or /status.json a pass over the
  workers' /proc entries): seconds in which no worker is reaped or replaced and no
  signal is handled, and a probe waits behind them all. A connection's next answer
  waits until its previous one is all in the kernel ('finish'): a client pipelining
  without reading holds one answer in the master, and the server's pipelining depth
  stops reading it meanwhile (its requests wait in the kernel), so a burst of such
  connections costs the master a bounded memory each, not an answer per request.
"""

import logging
import os
import time
from collections import deque

from . import deadlines, health, listeners as listeners_mod, status, systemd

log = logging.getLogger("prefork.master")

MAX_CONNECTIONS = 64
REQUEST_TIMEOUT = 10.0  # seconds for a whole request (a probe's is one short GET)
IDLE_TIMEOUT = 30.0  # seconds a connection may stay silent
RECOVERY_MARGIN = 3.0  # seconds past a hung worker's kill (timeout + KILL_GRACE) for its reaping and replacement
QUIESCE_LIMIT = 1.0  # seconds the endpoints' open connections get to finish before a re-exec
TURN_BUDGET = 0.005  # seconds of answers per loop turn
EVICT_AFTER = 1.0  # seconds idle (silent, or with no request) after which a connection may make room


def watchdog_interval():
    """Half of $WATCHDOG_USEC in seconds (sd_watchdog_enabled(3)), or None."""
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2e6


def watchdog(master):
    """WATCHDOG=1 while the master supervises: its loop runs (this timer) and no worker
    has outlived the master's recovery of it. A hung worker is the master's to end
    (SIGABRT at ``timeout``, SIGKILL ``KILL_GRACE`` later, then reaped and replaced), so
    a slow request or a hang the master is dealing with does not stop the pings (the
    service manager would kill every worker with it); one still there
    ``RECOVERY_MARGIN`` seconds past its kill (``health.is_stale`` with that limit: a
    process the kernel cannot end, a master that lost track of it) does. Silence is
    measured as the aborts measure it (``deadlines.heard_from``): a hung worker frozen
    with the daemon is dealt with after the thaw, and the pings go on meanwhile."""
    now = time.monotonic()
    extra = deadlines.KILL_GRACE + RECOVERY_MARGIN  # past each worker's own generation's timeout
    if not any(health.is_stale(w, now, w.settings.timeout + extra, deadlines.heard_from(master, w))
               for w in master.workers.values() if not w.retiring):
        systemd.notify(f"WATCHDOG=1\nSTATUS={master.status()}")
    if not master.stopping:
        master.loop.call_later(master.watchdog_interval, watchdog, master)


def start_metrics(master, address, inherited=()):
    """The master's operations endpoints on ``address`` (see the module's docstring): on
    the listener a re-exec'd master handed over for it, when ``inherited`` holds one."""
    from ..metrics import make_registry, render
    from ..server import create_server

    registry = make_registry(master)
    registry.append(health.ReadinessCollector(master))

    def metrics(req, res):
        body, content_type = render(registry, req.headers.get("accept"))
        res.set_header("Content-Type", content_type)
        res.set_header("Vary", "Accept")
        res.set_header("Cache-Control", "no-store")
        send(res, body)

    def healthz(req, res):
        live, text = health.liveness(master)
        answer(res, 200 if live else 503, text)

    def readyz(req, res):
        ready, reason = health.readiness(master)
        answer(res, 200 if ready else 503, reason + "\n")

    def status_page(req, res):
        answer(res, 200, status.page(master, req.url.partition("?")[2]), "text/html; charset=utf-8")

    def status_json(req, res):
        answer(res, 200, status.as_json(master), "application/json")

    routes = {"/metrics": metrics, "/healthz": healthz, "/readyz": readyz, "/status": status_page,
              "/status.json": status_json}

    def route(req, res):
        seen = open_sockets.get(req.socket)
        if seen is not None:
            seen.answering += 1
            res.once("close", seen.answered)
        if not req.complete:  # a body still coming: none is asked for here
            res.set_header("Connection", "close")
            res.once("finish", lambda: req.complete or req.socket.destroy())
        handler = routes.get(target_path(req.url))
        if handler is None:
            answer(res, 404, "not found\n")
        elif req.method not in ("GET", "HEAD"):
            res.set_header("Allow", "GET, HEAD")
            answer(res, 405, "method not allowed\n")
        else:
            handler(req, res)
    answers = Answers(master.loop, route)

    def on_request(req, res):
        seen = open_sockets.get(req.socket)
        if seen is not None:
            seen.since = time.monotonic()  # a request came: not idle
        answers.add(req, res)
    key = listeners_mod.METRICS_PREFIX + address
    sock = listeners_mod.take(inherited, key) if inherited else None
    for name, other in [item for item in inherited if item[0].startswith(listeners_mod.METRICS_PREFIX)]:
        inherited.remove((name, other))  # handed over for another address: closed before this one is bound
        other.close()
    if sock is None:
        (_, sock), = listeners_mod.open_listeners([address], 128, env={})
    master.metrics_listener = (key, sock)
    server = create_server(on_request, loop=master.loop, keep_alive_timeout=5.0, timeout=IDLE_TIMEOUT,
                           headers_timeout=REQUEST_TIMEOUT, request_timeout=REQUEST_TIMEOUT,
                           connections_checking_interval=1.0)
    open_sockets = {}  # socket -> Seen, in the order accepted

    def on_connection(socket):
        now = time.monotonic()
        if len(open_sockets) >= MAX_CONNECTIONS and not make_room(open_sockets, socket.remote_address, now):
            socket.destroy()
            return
        open_sockets[socket] = Seen(now)
        socket.on("close", lambda had_error: open_sockets.pop(socket, None))
    server.on("connection", on_connection)
    server.on("checkContinue", on_request)  # no 100 Continue: no endpoint reads a body
    server.on("connect", lambda req, socket, head: refuse_connect(socket, routes.get(target_path(req.url))))
    master.metrics_server = server
    server.listen(sock=sock)


class Answers:
    """Requests waiting for their answer, one queue per connection; ``pump`` answers one
    request of each connection in turn (round robin), for ``TURN_BUDGET`` seconds of a
    loop turn at most, and goes on at the next turn, after the loop's other events. A
    connection's next request is answered only once its previous answer is all in the
    kernel (its 'finish'): a client that pipelines without reading holds one answer in
    the master, never one per request it sent (and its requests stay unread, the
    server's pipelining depth reached)."""

    def __init__(self, loop, route):
        self.loop = loop
        self.route = route  # route(req, res) answers one request
        self.waiting = {}  # socket -> deque of (req, res): its turn may come, in turn order
        self.sending = {}  # socket -> deque of (req, res): its last answer is still going out
        self.scheduled = False

    def add(self, req, res):
        sock = req.socket
        queue = self.waiting.get(sock) or self.sending.get(sock)
        if queue is None:
            queue = self.waiting[sock] = deque()
        queue.append((req, res))
        if not self.scheduled and sock in self.waiting:
            self.scheduled = True
            self.loop.call_soon(self.pump)

    def pump(self):
        self.scheduled = False
        waiting = self.waiting
        deadline = time.monotonic() + TURN_BUDGET
        while waiting:
            sock = next(iter(waiting))
            queue = waiting.pop(sock)
            req, res = queue.popleft()
            if res.destroyed:  # its connection may have gone meanwhile
                if queue and not sock.destroyed:
                    waiting[sock] = queue
                continue
            self.sending[sock] = queue  # its next request waits for this answer to go out
            done = Sent(self, sock)
            res.once("finish", done)
            res.once("close", done)
            self.route(req, res)
            if time.monotonic() >= deadline:
                break
        if waiting:
            self.scheduled = True
            self.loop.call_soon(self.pump)

    def sent(self, sock):
        """The answer going out on ``sock`` is in the kernel (or its connection is gone):
        its next request, if any, waits for its turn."""
        queue = self.sending.pop(sock, None)
        if queue and not sock.destroyed:
            self.waiting[sock] = queue
            if not self.scheduled:
                self.scheduled = True
                self.loop.call_soon(self.pump)


class Sent:
    """A response's 'finish' or 'close', whichever comes first: ``Answers.sent`` once."""

    __slots__ = ("answers", "sock")

    def __init__(self, answers, sock):
        self.answers = answers
        self.sock = sock

    def __call__(self, *_):
        answers, self.answers = self.answers, None
        if answers is not None:
            answers.sent(self.sock)


class Seen:
    """What the endpoints know of one of their connections: when it was accepted or
    last brought a request (``since``), and how many of its requests are being answered."""

    __slots__ = ("since", "answering")

    def __init__(self, now):
        self.since = now
        self.answering = 0

    def answered(self, *_):
        self.answering -= 1

    def idle(self, sock, now):
        """Nothing moved for ``EVICT_AFTER`` seconds, or no request came for as long while
        none is answered (a head trickled byte by byte moves, but brings no request)."""
        return now - sock.last_activity >= EVICT_AFTER or (not self.answering and now - self.since >= EVICT_AFTER)


def make_room(sockets, peer, now):
    """Close one of ``sockets`` (the endpoints' open connections, at their limit, a dict
    socket -> ``Seen`` in the order they were accepted) for a new connection from address
    ``peer``: of the address holding the most, if it holds more than ``peer`` would with
    the new one; else one idle (``Seen.idle``), another address's first, the one idle
    longest; else, when ``peer`` holds some (every local client shares 127.0.0.1), its
    own connection held longest; else the one held longest, one not being answered first."""
    by_peer = {}
    for sock in sockets:
        by_peer.setdefault(sock.remote_address, []).append(sock)
    crowd = max(by_peer.values(), key=len)
    if len(crowd) > len(by_peer.get(peer, ())) + 1:
        victim = min(crowd, key=lambda sock: sock.last_activity)
    else:
        idle = [sock for sock, seen in sockets.items() if seen.idle(sock, now)]
        if idle:
            victim = min(idle, key=lambda sock: (sock.remote_address == peer,
                                                 min(sock.last_activity, sockets[sock].since)))
        elif peer in by_peer:
            victim = by_peer[peer][0]  # (in accept order): the address keeps its share, takes no one else's
        else:
            # every address holds one, each busy: the one held longest goes (one not being
            # answered first), so that many addresses each asking once a second cannot
            # keep a probe out for ever (they churn each other; the probe gets in)
            quiet = [sock for sock, seen in sockets.items() if not seen.answering]
            victim = next(iter(quiet or sockets))
    del sockets[victim]  # its 'close' comes on a later loop turn
    victim.destroy()
    return True


def target_path(target):
    """The path of a request target, in origin form (``/healthz?x``) or absolute form
    (``http://host:9464/healthz``, which a server must accept: RFC 9112, 3.2.2)."""
    path = target.split("?", 1)[0]
    scheme, sep, rest = path.partition("://")
    if sep and scheme.lower() in ("http", "https") and not path.startswith("/"):
        path = "/" + rest.partition("/")[2]
    return path


def quiesce(master, then, limit=QUIESCE_LIMIT):
    """Before a re-exec: the endpoints stop accepting (a duplicate of their listener is
    what gets handed over, so connections meanwhile wait in its backlog) and the
    connections they hold answer what they were asked, then close; ``then()`` runs once
    they are all gone, or after ``limit`` seconds. A connection the exec found holding an
    unread request would be reset."""
    server = master.metrics_server
    if server is None or master.metrics_listener is None:
        then()
        return
    key, sock = master.metrics_listener
    master.metrics_listener = (key, sock.dup())  # the server closes its own as it drains
    ran = []

    def go(_=None):
        if not ran:
            ran.append(True)
            timer.cancel()
            then()
    timer = master.loop.call_later(limit, go)
    server.drain(go)


def resume(master):
    """The re-exec did not happen: the endpoints serve again, on the same listener."""
    server = master.metrics_server
    if server is not None and server.draining and master.metrics_listener is not None:
        start_metrics(master, master.settings.metrics_bind, [master.metrics_listener])


def refuse_connect(socket, handler):
    """A ``CONNECT`` (which leaves HTTP: no response object) gets the answer any other
    method than GET or HEAD gets, 405 (404 for a target that is no endpoint, as the
    other methods get), and the connection is closed once it is out, as nginx closes it."""
    status, text = ("405 Method Not Allowed", b"method not allowed\n") if handler else ("404 Not Found", b"not found\n")
    allow = "Allow: GET, HEAD\r\n" if handler else ""
    socket.write(f"HTTP/1.1 {status}\r\n{allow}Content-Type: text/plain; charset=utf-8\r\n"
                 f"Cache-Control: no-store\r\nContent-Length: {len(text)}\r\nConnection: close\r\n\r\n".encode()
                 + text)
    socket.destroy_soon()


def answer(res, status, text, content_type="text/plain; charset=utf-8"):
    res.status_code = status
    res.set_header("Content-Type", content_type)
    res.set_header("Cache-Control", "no-store")
    send(res, text)


def send(res, body):
    """End ``res`` with ``body``, its length said outright: a HEAD's answer then carries
    the very head its GET would (RFC 9110, 9.3.2), ``Content-Length`` included, which
    the server leaves out of a HEAD's head when it is not set (as Node's does)."""
    if isinstance(body, str):
        body = body.encode()
    res.set_header("Content-Length", str(len(body)))
    res.end(body)
