"""A worker process: set up after fork, load the app, serve until told to stop.

Rules:
- The master's loop, wakeup pair and signal handlers are dropped at once; the worker
  builds its own asyncio loop (``loop`` setting: the stdlib selector loop, or uvloop),
  so coroutine listeners can await any asyncio library. Signals: TERM drains
  (graceful), INT and QUIT stop now, USR1 reopens the logs; the master's other signals
  are ignored here.
- faulthandler is on: the SIGABRT a hung worker gets from the master dumps every
  thread's stack to stderr (the error log). A Python-level SIGABRT handler installed
  under it then writes the access log buffer and aborts the process, as soon as the
  interpreter gets control (a worker stuck inside C code dies by the master's SIGKILL
  with its buffer unwritten).
- One response observer per worker: it takes the duration once and feeds the metrics
  (when on), the access log (when on) and the max_requests count (when set).
- The access log buffer is written by a timer every ``access_log_flush`` seconds, on
  USR1 (then reopened) and after the loop ends, however it ends (TERM, INT, QUIT,
  max_requests recycling, the master gone).
- The loop sends a heartbeat with the worker's stats on its channel about once a
  second; a stalled loop sends none, which is how the master notices a hang.
- A worker whose app fails to load reports ``boot_error`` and exits with status 3.
- The master going away (channel closed) is treated as TERM. A master that is only slow
  (its end of the channel full) is not gone: the channel queues, heartbeats coalesce.
"""

import asyncio
import faulthandler
import importlib
import logging
import os
import pwd
import grp
import random
import signal
import sys
import time
import traceback

from setproctitle import setproctitle

from . import logs
from .metrics import WorkerMetrics
from .runtime import new_event_loop
from .server import create_server

log = logging.getLogger("prefork.worker")

BOOT_ERROR = 3
HEARTBEAT_INTERVAL = 1.0
FINAL_FLUSH_TIMEOUT = 1.0  # seconds an exiting worker waits for a stalled master to take its last counts
SERVER_KNOBS = ("keep_alive_timeout", "headers_timeout", "request_timeout", "max_requests_per_socket",
                "max_header_size", "max_headers_count", "connections_checking_interval",
                "proxy_protocol_timeout", "proxy_allow_ips")


def load_app(settings):
    """The callable the interface needs: setup(server) for events, the WSGI app for wsgi."""
    if not settings.app:
        if settings.interface == "wsgi":
            from .demo import wsgi_app
            return wsgi_app
        from .demo import setup
        return setup
    module_name, _, attribute = settings.app.partition(":")
    module = importlib.import_module(module_name)
    try:
        target = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return target


def drop_privileges(settings):
    if os.getuid() != 0 or not (settings.user or settings.group):
        return
    if settings.group:
        gid = grp.getgrnam(settings.group).gr_gid if not settings.group.isdigit() else int(settings.group)
        os.setgid(gid)
        os.setgroups([gid])
    if settings.user:
        entry = pwd.getpwnam(settings.user) if not settings.user.isdigit() else pwd.getpwuid(int(settings.user))
        if not settings.group:
            os.setgid(entry.pw_gid)
            os.initgroups(entry.pw_name, entry.pw_gid)
        os.setuid(entry.pw_uid)


class Worker:
    def __init__(self, slot, settings, listeners, channel):
        self.slot = slot
        self.settings = settings
        self.listeners = listeners
        self.channel = channel
        self.requests = 0
        self.stopping = False
        limit = settings.max_requests
        if limit and settings.max_requests_jitter:
            limit += random.randint(0, settings.max_requests_jitter)
        self.request_limit = limit
        self.recycle_asked = False

    def run(self):
        settings = self.settings
        setproctitle(f"prefork: worker {self.slot} [{settings.name}]")
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
        drop_privileges(settings)
        self.loop = loop = new_event_loop(settings.loop)
        asyncio.set_event_loop(loop)
        self.server = server = create_server(loop=loop, **{k: getattr(settings, k) for k in SERVER_KNOBS})
        try:
            app = load_app(settings)
            if settings.interface == "wsgi":
                from .wsgi import make_adapter
                make_adapter(app, settings).setup(server)
            else:
                app(server)
        except BaseException:
            error = traceback.format_exc()
            log.error("worker %d: the app failed to load:\n%s", self.slot, error)
            self.channel.send("boot_error", error=error)
            return BOOT_ERROR
        self.metrics = WorkerMetrics(server, settings.metrics_buckets) if settings.metrics_bind else None
        server.response_observer = self.observer()
        if self.access is not None and settings.access_log_flush > 0:
            self.flush_timer = loop.call_later(settings.access_log_flush, self.flush_access_log)
        proxied = settings.proxy_protocol_bind
        for address, sock in self.listeners:
            server.listen(sock=sock, proxy_protocol=settings.proxy_protocol or address in proxied)
        loop.add_signal_handler(signal.SIGTERM, self.drain)
        loop.add_signal_handler(signal.SIGINT, self.stop_now)
        loop.add_signal_handler(signal.SIGQUIT, self.stop_now)
        loop.add_signal_handler(signal.SIGUSR1, self.reopen_logs)
        for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_IGN)
        self.channel.sock.setblocking(False)
        self.channel.attach(loop)
        loop.add_reader(self.channel.fileno(), self.on_channel)
        self.channel.send("ready", pid=os.getpid())
        self.heartbeat()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            if self.access is not None:
                self.access.close()
        self.channel.send("hb", stats=self.stats())  # the last counts, for the master's totals
        self.channel.finish(FINAL_FLUSH_TIMEOUT)
        return 0

    def stats(self):
        if self.metrics is not None:
            return self.metrics.snapshot()
        return {"connections": self.server.connections}

    def observer(self):
        """``observe(req, res)`` for the server, or None when nothing observes responses."""
        record = self.metrics.recorder() if self.metrics is not None else None
        line = self.access.line if self.access is not None else None
        count = self.count_request if self.request_limit else None
        if record is None and line is None and count is None:
            return None
        monotonic = time.monotonic  # the clock of req.start_time

        def observe(req, res):
            duration = monotonic() - req.start_time
            if record is not None:
                record(req, res, duration)
            if line is not None:
                line(req, res, duration)
            if count is not None:
                count()
        return observe

    def count_request(self):
        self.requests += 1
        if self.requests >= self.request_limit and not self.recycle_asked:
            self.recycle_asked = True
            self.channel.send("recycle", requests=self.requests)

    def flush_access_log(self):
        self.access.flush()
        self.flush_timer = self.loop.call_later(self.settings.access_log_flush, self.flush_access_log)

    def reopen_logs(self):
        if self.access is not None:
            self.access.reopen()
        logs.reopen()

    def on_abort(self, signum, frame):
        """SIGABRT from the master (faulthandler has dumped the stacks): write the access
        log buffer, then die of SIGABRT."""
        if self.access is not None:
            self.access.flush()
        signal.signal(signal.SIGABRT, signal.SIG_DFL)
        os.abort()

    def heartbeat(self):
        if not self.channel.send("hb", stats=self.stats()):  # False only when the master is gone
            self.drain()
            return
        self.loop.call_later(HEARTBEAT_INTERVAL, self.heartbeat)

    def on_channel(self):
        if self.channel.receive() is None:  # the master is gone
            self.loop.remove_reader(self.channel.fileno())
            self.drain()

    def drain(self):
        if self.stopping:
            return
        self.stopping = True
        setproctitle(f"prefork: worker {self.slot} [{self.settings.name}] (draining)")
        self.server.drain(lambda err: self.loop.stop())
        self.loop.call_later(self.settings.graceful_timeout, self.loop.stop)

    def stop_now(self):
        self.server.close_all_connections()
        self.loop.stop()


def main(slot, settings, listeners, channel):
    """The worker entry point the master calls in the forked child."""
    return Worker(slot, settings, listeners, channel).run()
