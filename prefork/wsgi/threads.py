"""WSGI calls on a per-worker thread pool (``threads > 1``); the loop keeps the sockets.
One call on its thread, and how its response reaches the loop, is ``wsgi/threadcall.py``.

Rules:
- The body streams to the thread (``wsgi.input`` is a ``BodyPipe``); reading blocks the
  app's thread, not the loop; the request is paused while the pipe holds its high-water
  mark (so the socket stops reading) and resumed as the thread reads. The bodies of
  calls waiting for a thread hold ``WAITING_BODIES`` together at most (wsgi/pipe.py).
- A call with a body goes to a thread only once its body is in, or the pipe's
  high-water mark of it (256 KiB, what the thread would hold anyway), or it failed
  (``BodyPipe.when_ready``): a stalled or trickling upload holds its socket until
  ``request_timeout``, never a thread, and its bytes meanwhile count in
  ``WAITING_BODIES``. A call whose client leaves while it waits for its body is done
  on the loop. The 100 of ``Expect: 100-continue`` still goes out at the head.
- A call whose client went away while it waited for a thread is not run, nor one
  behind a response that closes its connection (``adapter.closing``).
- One call per connection at a time: a pipelined request waits until the call before it
  on its connection is done, so responses go out in request order.
- Calls that wait for a thread over ``_REBALANCE_WAIT`` make this worker answer with
  ``Connection: close`` (unless a request waits behind the response on its connection):
  the client's next connection may be accepted by a worker with a free thread.
- The heartbeat keeps coming from the loop, so a slow app never gets the worker killed.
  A call running past ``timeout`` is logged once, with its thread's stack
  (``sys._current_frames``); nothing else is done to it: Python cannot stop a thread,
  and the worker keeps serving on its other threads.
- Threads are daemon threads started with the pool (in the worker, after fork).
"""

import logging
import queue
import sys
import threading
import traceback
from collections import deque
from functools import partial
from time import monotonic

from .adapter import closing
from .body import answer_failure
from .pipe import BodyPipe, WaitingBodies
from .streams import InputStream
from .threadcall import ThreadCall

log = logging.getLogger("prefork.wsgi")

_REBALANCE_WAIT = 0.05  # seconds a call may wait for a thread before clients are sent elsewhere


class ThreadedCalls:
    """The pool, the per-connection order, and the watch over long calls."""

    def __init__(self, adapter, threads, timeout):
        self.adapter = adapter
        self.loop = adapter.loop
        self.timeout = timeout
        self.jobs = queue.SimpleQueue()
        self.connections = {}  # socket -> deque of calls waiting behind the running one
        self.running = set()
        self.queued = deque()  # submitted calls in order; the front ones may have started
        self.awaiting = set()  # calls waiting for their body before they go to a thread
        self.last_wait = 0.0  # seconds the call a thread took last had waited (set by the threads)
        self.waiting_bodies = WaitingBodies(loop=self.loop)  # what the bodies of calls waiting hold
        self.threads = [threading.Thread(target=self._serve, name=f"wsgi-{i}", daemon=True)
                        for i in range(threads)]
        for thread in self.threads:
            thread.start()
        self.watch_interval = max(0.05, min(1.0, timeout / 4)) if timeout and timeout > 0 else 0
        self.watcher = self.loop.call_later(self.watch_interval, self._watch) if self.watch_interval else None

    def close(self):
        if self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None
        for _ in self.threads:
            self.jobs.put(None)

    def join(self, wait):
        """Wait up to ``wait`` seconds in all for the threads to end; how many still run."""
        deadline = monotonic() + wait
        for thread in self.threads:
            thread.join(max(0.0, deadline - monotonic()))
        return sum(thread.is_alive() for thread in self.threads)

    # -- on the loop -------------------------------------------------------------------------------
    def on_request(self, req, res):
        adapter = self.adapter
        fields = req.all_headers  # (the framing fields may be past max_headers_count's cut)
        length = fields.get("content-length")
        if (length is None or length == "0") and "transfer-encoding" not in fields:
            body = InputStream.empty()
        elif adapter.too_large(req):
            answer_failure(res, 413)
            return
        else:
            body = BodyPipe(req, self.loop, adapter.max_body_size, waiting=self.waiting_bodies)
        call = ThreadCall(self, req, res, body)
        waiting = self.connections.get(req.socket)
        if waiting is None:
            if closing(req.socket):
                body.discard()
                return  # (a request read after the connection began to close: not run)
            self.connections[req.socket] = deque()
            self._submit(call)
        else:
            waiting.append(call)

    def _submit(self, call):
        body = call.body
        if body.__class__ is BodyPipe and not body.when_ready(partial(self._ready, call)):
            self.awaiting.add(call)
            return  # no thread until its body is in (or 256 KiB of it): a stalled upload holds none
        call.environ = self.adapter.environs.environ(call.req, call.body, call.early_hints)
        call.queued_at = monotonic()
        self.running.add(call)
        self.queued.append(call)
        self.jobs.put(call)

    def _ready(self, call):
        """(On the loop.) The body ``call`` waited for is in, or enough of it, or failed: a
        thread may take the call; one whose client went away meanwhile is done."""
        self.awaiting.discard(call)
        if call.gone:
            call.body.discard()
            self.done(call)
        else:
            self._submit(call)

    def done(self, call):
        self.running.discard(call)
        socket = call.req.socket
        waiting = self.connections.get(socket)
        while waiting:
            following = waiting.popleft()
            if not closing(socket):
                self._submit(following)
                return
            following.body.discard()
        self.connections.pop(socket, None)

    def oldest_wait(self):
        """Seconds the oldest call still waiting for a thread has waited (0.0: none waits)."""
        queued = self.queued
        while queued and queued[0].started:
            queued.popleft()
        return monotonic() - queued[0].queued_at if queued else 0.0

    def oversubscribed(self, call):
        """Calls wait (or the last one to start waited) for a thread here for a while, and
        none waits behind ``call`` on its connection: its client had better come back on a
        new connection, which a worker with a free thread may accept. (Short waits, as
        under a fast app's load, keep connections alive.)"""
        return ((self.last_wait > _REBALANCE_WAIT or self.oldest_wait() > _REBALANCE_WAIT)
                and not self.connections.get(call.req.socket))

    def _watch(self):
        now = monotonic()
        frames = None
        for call in list(self.running):
            started, ident = call.started, call.ident
            if ident is None or call.reported or now - started <= self.timeout:
                continue
            call.reported = True
            if frames is None:
                frames = sys._current_frames()
            frame = frames.get(ident)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "  (no frame)\n"
            log.error("WSGI call %s %s has run for %.1f s (timeout %s s); it goes on. Its thread's stack:\n%s",
                      call.req.method, call.req.url, now - started, self.timeout, stack.rstrip("\n"))
        self.watcher = self.loop.call_later(self.watch_interval, self._watch)

    # -- on a thread ------------------------------------------------------------------------------
    def _serve(self):
        jobs = self.jobs
        while True:
            call = jobs.get()
            if call is None:
                return
            call.run()
            call = None  # (not kept, with its request and connection, while the thread waits)
