"""A worker process: set up after fork, load the app, serve until told to stop.

Rules:
- The master's loop, wakeup pair and signal handlers are dropped at once; the worker
  builds its own asyncio loop (``loop`` setting: the stdlib selector loop, or uvloop),
  so coroutine listeners can await any asyncio library. Signals (worksignals.py): TERM
  drains (graceful; heard at once, a request read after it is answered with
  ``Connection: close``), INT and QUIT stop now, USR1 reopens the logs; the master's other signals
  are caught and dropped here (not ignored: an ignored signal stays ignored across exec
  in every program the app runs), but TTOU, ignored (caught, a write to a terminal in
  ``stty tostop`` mode would be retried for ever). A process the app forks (multiprocessing, a process
  pool, ``os.fork``) leaves the worker's signal handling behind at once: default
  actions and no wakeup descriptor, so a signal sent to it is its own (it went to the
  worker's loop, which drained or stopped the worker). A USR1 that comes while the worker boots (logrotate does not wait
  for a reload) is noted and acted on once the worker serves: it never kills a booting
  worker.
- faulthandler is on: the SIGABRT a hung worker gets from the master dumps every
  thread's stack to stderr (the error log). A Python-level SIGABRT handler installed
  under it then writes the access log buffer and aborts the process, as soon as the
  interpreter gets control (a worker stuck inside C code dies by the master's SIGKILL
  with its buffer unwritten); a WSGI call it interrupts is answered 500 first
  (``plugging.abort``).
- One response observer per worker: it takes the duration once and feeds the metrics
  (when on), the access log (when on) and the max_requests count (when set). A request
  the server answered itself (a parse error's or a timeout's 4xx) gets its access log
  line too, as nginx logs its own 400s; metrics count those as client errors.
- The access log buffer is written by a timer every ``access_log_flush`` seconds, on
  USR1 (then reopened) and after the loop ends, however it ends (TERM, INT, QUIT,
  max_requests recycling, the master gone).
- The loop sends a heartbeat with the worker's stats on its channel about once a
  second (a quarter of `timeout` when that is shorter); a stalled loop sends none, which is how the master notices a hang.
  Once the serving loop has ended it says ``exiting``: its exit work owes no heartbeat.
- The app is found, imported and recognised by ``apps.load`` in the worker (never in the
  master), as its ``user``; by its kind it gets ``setup(server)`` called (events) or is
  wrapped by ``make_adapter(app, settings)`` of ``prefork.wsgi`` or ``prefork.asgi``,
  imported then (before the privileges go, when they go: ``plugging.preload``).
- A worker whose app fails to load reports ``boot_error`` and exits with status 3; an app
  that cannot be served as configured is reported in one line (``apps.AppError``),
  anything else with its traceback. So does an ASGI app whose lifespan startup fails
  (run before ``ready``, heartbeats going out while it awaits; a TERM meanwhile cancels
  it and the worker ends by that TERM: booting.py); its lifespan shutdown
  runs once the loop has stopped (drained or stopped at once).
- TLS listeners use the context the master built when it checked the settings (read
  as the master's user, before any privileges are dropped; its session ticket keys are
  shared by every worker, so a client resumes on any of them); a worker started
  without one builds its own here. A reload (HUP) checks the settings again, so its
  workers serve the certificate files as they are then (and new ticket keys), while the
  old generation keeps serving its connections with the old ones until they end.
- The app's own output is a log stream: the worker's stdout is line-buffered (a line
  printed reaches a container's log collector at once, with or without
  PYTHONUNBUFFERED), and stdout and stderr are flushed before the process ends, however
  it ends short of SIGKILL (an exit, or SIGABRT for a hang).
- USR1 from the master comes as a ``reopen`` message on the channel carrying the new
  log files as descriptors (the worker may run as a user that could not open them);
  a USR1 signal (someone signalled the worker itself) reopens by path.
- A drain ends when every connection has (or at its bound, just before the master's
  kill); the server's coroutine listeners still running then (an async ``close``
  listener closing the app's pools) get until that bound to finish, as Node's process
  lives until its pending work is done (``LATE_CLOSE`` when the bound's cut of the
  connections left open is what emits the server's ``close``). Tasks left are cancelled
  and get ``TASKS_UNWIND`` s, then WSGI threads as long (under a short grace, half the
  exit margin each). A fast stop (INT, QUIT) waits for nothing.
- After the loop, the app's own exit work runs as in a Python process that ends
  normally (``process.wind_down``): its non-daemon threads are joined until the
  drain's bound, then its ``atexit`` hooks run (error reporters and tracers flush
  there).
- A ``stop`` read once serving (sent as it finished booting, after its last look) drains it.
- The master going away (channel closed) is treated as TERM. A master that is only slow
  (its end of the channel full) is not gone: the channel queues, heartbeats coalesce.
"""

import asyncio
import faulthandler
import logging
import os
import signal
import sys
from time import monotonic

from setproctitle import setproctitle

from . import apps, logs
from .booting import HEARTBEAT_INTERVAL, STOP_UNWIND, BootStopped, beating, end_by_term, told_to_stop
from .metrics import WorkerMetrics, reply_observer, response_observer
from .plugging import abort, load_app, plug_in, preload
from .process import (cancel_tasks, drop_privileges, guard_forks, line_buffered, stop_default_executor, serve,
                      wind_down)
from .runtime import LoopUnavailable, new_event_loop
from .server import create_server
from .worksignals import serving_signals

log = logging.getLogger("prefork.worker")

BOOT_ERROR = 3
FINAL_FLUSH_TIMEOUT = 1.0  # seconds an exiting worker waits for a stalled master to take its last counts
LATE_CLOSE = 0.1  # seconds the 'close' listeners a drain's cut starts get to finish
TASKS_UNWIND = 0.3  # seconds the tasks left at exit get to unwind (then the WSGI threads; see unwind)
EXIT_MARGIN = 0.5  # seconds before the master's kill a draining worker's loop ends, at most
FAST_STOP_BOUND = 2.0  # seconds from a fast stop to the master's kill (its KILL_GRACE)
SERVER_KNOBS = ("keep_alive_timeout", "headers_timeout", "request_timeout", "max_requests_per_socket",
                "max_connections", "max_header_size", "max_headers_count", "connections_checking_interval",
                "proxy_protocol_timeout", "proxy_allow_ips")


def tls_listeners(settings, listeners):
    """``{address: ServerTLS}`` for the listeners that speak TLS (empty: none does)."""
    from .net.tls import ServerTLS
    from .net.tlsconfig import listener_tls
    tls_addresses = [address for address, _ in listeners if listener_tls(address, settings)]
    if not tls_addresses:
        return {}
    tls = ServerTLS.from_settings(settings)
    return dict.fromkeys(tls_addresses, tls)


class Worker:
    def __init__(self, slot, settings, listeners, channel):
        self.slot = slot
        self.settings = settings
        self.listeners = listeners
        self.channel = channel
        self.requests = 0
        self.stopping = False
        self.serving = True  # the loop runs its serving run (run_forever), not the exit steps after it
        self.stop_timer = None  # the end of a drain's grace (set by drain)
        self.stop_by = None  # that end, a monotonic() time (None: no drain, or a fast stop)
        limit = settings.max_requests
        if limit and settings.max_requests_jitter:
            # uniform in 0 .. jitter (random's module is not imported in the worker for it)
            limit += int.from_bytes(os.urandom(4), "big") % (settings.max_requests_jitter + 1)
        self.request_limit = limit
        self.recycle_asked = False
        self.asgi = None  # the ASGI adapter, whose lifespan ends with the worker
        self.wsgi = None  # the WSGI adapter, whose thread pool (threads > 1) ends with it
        self.reopen_noted = False
        self.boot_stopped = False  # a TERM cancelled the boot's lifespan startup or async setup
        self.reopen_pending = ()  # logs whose new descriptors were lost on USR1 (reopen_lost)
        self.early = []  # the master's messages read while booting (told_to_stop), handled once serving

    def run(self):
        settings = self.settings
        setproctitle(f"prefork: worker {self.slot} [{settings.name}]")
        line_buffered(sys.stdout)
        signal.signal(signal.SIGUSR1, self.note_reopen)  # while booting: noted, acted on once serving
        self.access = None
        if settings.access_log:  # opened before the privileges go, as the master opened it
            try:
                self.access = logs.AccessLog(settings.access_log, settings.access_log_format,
                                             settings.access_log_flush)
            except (OSError, ValueError) as exc:
                error = f"cannot open the access log {settings.access_log}: {exc}"
                log.error("worker %d: %s", self.slot, error)
                self.channel.send("boot_error", error=error)
                return BOOT_ERROR
        signal.signal(signal.SIGABRT, self.on_abort)  # runs after faulthandler's dump
        faulthandler.enable(file=sys.stderr, all_threads=True)
        try:
            tls = tls_listeners(settings, self.listeners)
        except ValueError as exc:  # the files changed since the configuration was checked
            error = f"TLS: {exc}"
            log.error("worker %d: %s", self.slot, error)
            self.channel.send("boot_error", error=error)
            return BOOT_ERROR
        try:  # before the privileges go: the loop's modules may be where the user cannot read
            loop = new_event_loop(settings.loop)
        except LoopUnavailable as exc:
            log.error("worker %d: %s", self.slot, exc)
            self.channel.send("boot_error", error=str(exc))
            return BOOT_ERROR
        preload(settings)  # (a worker about to drop its privileges: prefork's own modules first)
        drop_privileges(settings)
        self.loop = loop
        asyncio.set_event_loop(loop)
        self.server = server = create_server(loop=loop, **{k: getattr(settings, k) for k in SERVER_KNOBS})
        try:
            kind, app = load_app(settings)
            asyncio.set_event_loop(loop)  # (again: an asyncio.run() in the app's import unset it)
            told_to_stop(self.channel, self.early)
            # an async setup(server) or a lifespan startup may await its services longer
            # than timeout (heartbeats go out); past startup_timeout, or failed, the boot fails
            adapter = plug_in(kind, app, settings, server, wait=lambda setup: loop.run_until_complete(
                beating(self.channel, settings.timeout, setup, settings.startup_timeout, "the async setup(server)")))
            self.wsgi = adapter if kind == "wsgi" else None
            if kind == "asgi":
                self.asgi = adapter
                loop.run_until_complete(beating(self.channel, settings.timeout, adapter.startup(),
                                                settings.startup_timeout, "the ASGI lifespan startup",
                                                answered=lambda: adapter.lifespan.startup_done is not None
                                                and adapter.lifespan.startup_done.done()))
            told_to_stop(self.channel, self.early, booted=True)
        except BootStopped as exc:  # (booting.py)
            log.info("worker %d: stopped while booting: %s", self.slot, exc)
            self.boot_stopped = True
            if exc.completed and self.asgi is not None:  # undone as a ready worker's startup is
                self.asgi.stop_now(STOP_UNWIND)
                loop.run_until_complete(self.asgi.shutdown())
            return 0
        except apps.AppError as exc:
            log.error("worker %d: %s", self.slot, exc)
            self.channel.send("boot_error", error=str(exc))
            return BOOT_ERROR
        except BaseException as exc:
            error = apps.app_traceback(exc)  # from the app's first frame on
            log.error("worker %d: the app failed to load:\n%s", self.slot, error)
            if isinstance(exc, SyntaxError) and exc.filename:
                # the master says the last line: for a SyntaxError, with where it is
                error += f"{type(exc).__name__}: {exc.msg} ({exc.filename}, line {exc.lineno})\n"
            self.channel.send("boot_error", error=error)
            return BOOT_ERROR
        if kind == "wsgi" and settings.threads == 1:
            # the app's code runs on this thread with no loop running (wsgi/response.py);
            # nor is the worker's loop its event loop: asyncio.get_event_loop() there makes
            # one of the app's own, as in gunicorn's sync worker, rather than hand it this
            # running one (run_until_complete would raise)
            asyncio.set_event_loop_policy(None)
        self.metrics = WorkerMetrics(server, settings.metrics_buckets) if settings.metrics_bind else None
        server.response_observer = self.observer()
        server.reply_observer = reply_observer(self.access and self.access.reply_line, self.metrics)
        if self.access is not None and settings.access_log_flush > 0:
            self.flush_timer = loop.call_later(settings.access_log_flush, self.flush_access_log)
        proxied = settings.proxy_protocol_bind
        for address, sock in self.listeners:
            server.listen(sock=sock, tls=tls.get(address),
                          proxy_protocol=settings.proxy_protocol or address in proxied)
        serving_signals(loop, server, self.drain, self.stop_now, self.reopen_logs)  # (TERM: heard at once)
        if self.reopen_noted:  # a USR1 came while the app was loading
            self.reopen_logs()
        guard_forks()
        self.channel.sock.setblocking(False)
        self.channel.attach(loop)
        loop.add_reader(self.channel.fileno(), self.on_channel)
        self.on_messages(self.early)
        self.channel.send("ready", pid=os.getpid())
        self.heartbeat()
        try:
            code = serve(loop)  # 0, or the status an app's sys.exit() asked for
            self.serving = False  # (the steps below run the loop to their own ends)
            self.channel.send("exiting")  # (no heartbeat is owed from here: the master's kill bounds the rest)
            if self.stop_timer is not None:
                self.stop_timer.cancel()  # stopped before it: it must not stop the steps below
            if self.asgi is not None:
                loop.run_until_complete(self.asgi.shutdown())
            left = self.stop_by - monotonic() if self.stop_by is not None else 0.0
            pending = self.server.pending_tasks() if left > 0 else ()
            if pending:
                # a drain's end: the server's coroutine listeners still running (an async
                # 'close' listener closing the app's pools) finish within the drain's bound
                loop.run_until_complete(asyncio.wait(pending, timeout=left))
            self.server.exiting = True
            cancel_tasks(loop, self.unwind())  # (before the cut: a request cancelled still gets its 500)
            if self.stop_by is not None and self.server.open_connections:
                self.cut_at_bound(loop)
            else:
                self.cut_connections()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            stop_default_executor(loop)
            if self.access is not None:
                self.access.close()
        self.channel.send("hb", stats=self.stats())  # the last counts, for the master's totals
        self.channel.finish(FINAL_FLUSH_TIMEOUT)
        # the exit is decided: the loop closes now (not when the collector finds it, which put the default handlers
        # back), and a late INT or TERM (the master's, after a group's) cannot kill the winding-down worker
        stops = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # (none lands between the two)
        try:
            loop.close()
            for signum in stops:
                signal.signal(signum, signal.SIG_IGN)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return code

    def unwind(self):  # the tasks' and then the WSGI threads' moment: both fit the exit margin
        return min(TASKS_UNWIND, exit_margin(self.settings.graceful_timeout) / 2)

    def cut_at_bound(self, loop):
        """The drain's bound ran out on open connections: they are cut, the server's
        'close' comes once they are gone, and its coroutine listeners get LATE_CLOSE (at
        most a quarter of the exit margin) to finish before what is left is cancelled."""
        closed = loop.create_future()
        self.server.once("close", lambda: closed.done() or closed.set_result(None))
        self.cut_connections()
        late_close = min(LATE_CLOSE, exit_margin(self.settings.graceful_timeout) / 4)
        end = monotonic() + late_close
        loop.run_until_complete(asyncio.wait([closed], timeout=late_close))
        late = self.server.pending_tasks()
        if late:
            loop.run_until_complete(asyncio.wait(late, timeout=max(end - monotonic(), 0.0)))
            cancel_tasks(loop, late_close)

    def cut_connections(self):
        """The serving run is over (its drain's time ran out, or a fast stop): connections
        still open are destroyed, so each cut response gets its access log line and its
        app hears of it (a WSGI iterable is closed on its thread, which is given a moment
        for it); then the WSGI thread pool ends."""
        cut = self.server.destroy_all()
        if cut:
            log.warning("closing %d connection%s still open at the exit", cut, "" if cut == 1 else "s")
        if self.wsgi is not None:
            running = self.wsgi.close(self.unwind())
            if running:
                log.warning("%d WSGI thread%s still running the app's code at the exit", running,
                            "" if running == 1 else "s")

    def stats(self):
        if self.metrics is not None:
            return self.metrics.snapshot()
        return {"connections": self.server.open_connections}

    def observer(self):
        """``observe(req, res)`` for the server, or None when nothing observes responses."""
        count = self.count_request if self.request_limit else None
        if self.access is not None:
            return self.access.observer(self.loop, self.metrics, count)
        return response_observer(self.metrics, count)

    def count_request(self):
        self.requests += 1
        if self.requests >= self.request_limit and not self.recycle_asked:
            self.recycle_asked = True
            self.channel.send("recycle", requests=self.requests)

    def flush_access_log(self):
        try:
            self.access.flush()
        finally:  # (a failed flush does not end the flushing)
            self.flush_timer = self.loop.call_later(self.settings.access_log_flush, self.flush_access_log)

    def note_reopen(self, signum, frame):
        self.reopen_noted = True

    def reopen_logs(self):
        if self.access is not None:
            self.access.reopen()
        logs.reopen()

    def on_abort(self, signum, frame):
        """SIGABRT from the master (faulthandler has dumped the stacks): ``plugging.abort``."""
        abort(self.access, frame, getattr(self, "loop", None), self.settings.timeout)  # (no loop yet: booting)

    def heartbeat(self):
        if self.reopen_pending:
            self.reopen_lost()
        if not self.channel.send("hb", stats=self.stats()):  # False only when the master is gone
            self.drain()
            return
        self.loop.call_later(min(HEARTBEAT_INTERVAL, self.settings.timeout / 4), self.heartbeat)

    def on_channel(self):
        messages = self.channel.receive()
        if messages is None:  # the master is gone
            self.loop.remove_reader(self.channel.fileno())
            self.drain()
            return
        self.on_messages(messages)

    def on_messages(self, messages):
        for message in messages:
            if message.get("t") == "reopen":
                self.adopt_logs(message.get("logs") or [], message.get("fds") or [])
            elif message.get("t") == "stop":  # sent as it finished booting (told_to_stop saw none): it drains,
                self.drain()  # whoever took the TERM with it (its own handler, or one the app set in another thread)

    def adopt_logs(self, names, fds):
        """USR1 through the master: the log files it opened, as descriptors."""
        for name, fd in zip(names, fds):
            logs.adopt(name, fd, self.access)
        for fd in fds[len(names):]:
            os.close(fd)
        lost = names[len(fds):]
        if lost:
            # the kernel drops descriptors a process out of them cannot take (MSG_CTRUNC):
            # each log they were for is reopened by path once a descriptor is free (each
            # heartbeat looks), so the worker does not write to a rotated file for good
            log.warning("USR1: the new %s log descriptor(s) did not arrive (out of file descriptors); "
                        "reopening by path once descriptors are free", " and ".join(lost))
            self.reopen_pending = lost
            self.reopen_lost()

    def reopen_lost(self):
        """The logs whose descriptors were lost on USR1, reopened by path when a
        descriptor is free (else left for the next heartbeat)."""
        try:
            os.close(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            return
        lost, self.reopen_pending = self.reopen_pending, ()
        reopened = [name for name in lost if (name == "access" and self.access is not None and self.access.reopen())
                    or (name == "error" and logs.reopen())]
        if reopened:  # (one that failed said so, and is left to the next USR1)
            log.info("USR1: %s log reopened by path", " and ".join(reopened))

    def drain(self):
        if self.stopping:
            return
        self.stopping = True
        self.channel.send("draining")  # (a TERM the master did not send: it replaces this worker now)
        setproctitle(f"prefork: worker {self.slot} [{self.settings.name}] (draining)")
        # the loop ends a margin before the master's kill at graceful_timeout, so a worker whose connections
        # outlast it (an endless stream) still exits on its own, its last counts and log lines sent; armed
        # first, so that nothing below can leave a worker (one whose master is gone, say) draining for ever
        grace = self.settings.graceful_timeout
        end = max(grace - exit_margin(grace), 0.0)
        self.stop_timer = self.loop.call_later(end, self.stop_serving)
        self.stop_by = monotonic() + end
        self.server.drain(lambda err: self.stop_serving())
        if self.asgi is not None:
            self.asgi.drain(self.stop_serving)  # open WebSockets close with 1012

    def stop_now(self):
        """A fast stop: nothing more is accepted (a connection the kernel queued is refused,
        not served while the app tears down), every connection goes, and an ASGI app's
        lifespan shutdown gets what is left before the master's kill."""
        self.stopping, self.stop_by = True, None  # (nothing is waited for)
        self.server.exiting = True  # (the connections it cuts are its doing, not their clients')
        if self.server.listening:
            self.server.close()
        self.server.close_all_connections()
        if self.asgi is not None:
            self.asgi.stop_now(FAST_STOP_BOUND)
        self.stop_serving()

    def stop_serving(self):
        """The loop's serving run ends. Once it has (the ASGI shutdown and the tasks' unwind
        run the loop to their own ends), a stop would cut those short: it does nothing."""
        if self.serving:
            # at most once: uvloop's stop() is itself a queued callback, so a second one
            # made before it ran would stop the first exit step instead
            self.serving = False
            self.loop.stop()


def exit_margin(grace):
    """Seconds before the master's kill at ``grace`` that a draining worker's loop ends."""
    return min(grace / 8, EXIT_MARGIN)


def main(slot, settings, listeners, channel):
    """The worker entry point the master calls in the forked child."""
    worker = Worker(slot, settings, listeners, channel)
    code = worker.run()
    wind_down(worker.stop_by)
    if worker.boot_stopped:
        end_by_term()
    return code
