"""WSGI (PEP 3333) on the event server.

Rules:
- ``threads = 1``: the app runs on the loop, one call at a time per worker (WSGI apps
  are synchronous). The request body is read off the loop before the app is called: in
  memory up to ``body_spool`` bytes, then in a temporary file, closed when the response
  closes (or the client goes away mid-body). The bodies a worker keeps in memory at
  once stay under ``BODIES_IN_MEMORY`` together: past it, the body that would grow
  them goes to its temporary file (many uploads at once cost disk, not the worker's
  memory; each is bounded by ``max_body_size``). A request without a body
  is answered inside the read that completed it when no call is in progress (its
  response goes out with the others of that read); otherwise calls wait their turn in
  arrival order.
- ``threads > 1``: the app runs on the worker's thread pool (``wsgi/threads.py``) while
  the loop keeps every socket; the body streams to the app's thread as it arrives.
- A body over ``max_body_size`` gets a 413 (and the connection closes: the rest is not
  read); with a declared length, without calling the app. One that cannot be kept (its
  temporary file: a full ``TMPDIR``, no descriptor left) gets a 500 and one error line
  saying why, without calling the app.
- ``Expect: 100-continue``: the 100 goes out when the request is dispatched (as
  gunicorn does), unless the declared body is over ``max_body_size`` (413, no 100).
  A client that stalls mid-body holds only its own connection (request_timeout ends it).
- The environ is built from a per-connection base (``wsgi/environ.py``). ``root_path``'s
  percent-escapes are decoded (as latin-1, as ``PATH_INFO``'s are): ``/my%20app`` is
  the mount point ``/my app``, the one a decoded path is matched against.
- ``CONNECT`` is answered 400 and the connection closed, never given to the app: WSGI
  has no tunnel (the same answer as the ASGI interface's, and uvicorn's). Any other
  upgrade request is served as a plain request, as gunicorn serves it.
- A call is not run for a connection that is gone or closing (a response before it was
  cut, ``Connection: close``): its answer could never be sent, and a pipelined request
  (a POST) must not take effect unseen.
- A response's writes are not held to the loop's next turn (``turn_holds = False`` on
  each connection's socket, as gunicorn writes at once): what a call writes reaches the
  kernel as ``wsgi/response.py`` and ``wsgi/threadcall.py`` hand it on.
"""

import contextvars
from functools import partial
import logging
import tempfile
from collections import deque
from urllib.parse import unquote_to_bytes

from ..server.replies import refuse
from .environ import EnvironBuilder
from .body import answer_failure
from .head import WholeHeads
from .response import start_call
from .sending import HeldBytes
from .streams import Errors, FileWrapper, InputStream


log = logging.getLogger("prefork.wsgi")

BODIES_IN_MEMORY = 32 * 1024 * 1024  # bytes of bodies a worker keeps in memory at once, all spools together


class _Spool:
    """A body read whole on the loop before the call: memory, then a temporary file."""

    __slots__ = ("adapter", "req", "res", "size", "refused", "file", "in_memory")

    def __init__(self, adapter, req, res):
        self.adapter = adapter
        self.req = req
        self.res = res
        self.size = 0
        self.refused = False
        self.file = None
        self.in_memory = 0  # of this body's bytes, those counted in the adapter's in-memory total
        req.on("data", self.on_data)
        req.on("end", self.on_end)
        res.once("close", self.release)  # answered, or the client went away mid-body

    def release(self, *_):
        """The exchange is over: the spool (a temporary file past ``body_spool``) goes now,
        not when the garbage collector finds it; so do the request and response (their
        listeners hold this object: without this, a cycle)."""
        spool, self.file = self.file, None
        if spool is not None:
            spool.close()
        self.to_disk()
        self.refused = True  # body bytes after the exchange are dropped
        self.req = self.res = None

    def on_data(self, chunk):
        if self.refused:
            return
        self.size += len(chunk)
        if self.size > self.adapter.max_body_size:
            self.refused = True
            answer_failure(self.res, 413)
            return
        adapter = self.adapter
        try:
            if self.file is None:
                self.file = tempfile.SpooledTemporaryFile(max_size=adapter.body_spool)
            self.file.write(chunk)
            if self.size > adapter.body_spool:  # on disk from this write on
                self.file.rollover()  # (what the write did, unless the spool is 0: a max_size of 0 never rolls over)
                self.to_disk()
                return
            self.in_memory += len(chunk)
            adapter.bodies_in_memory += len(chunk)
            if adapter.bodies_in_memory > BODIES_IN_MEMORY:  # many bodies at once: this one goes to disk
                self.file.rollover()
                self.to_disk()
        except OSError as exc:  # no room: a full TMPDIR, no descriptor left, no usable directory
            self.cannot_spool(exc)

    def cannot_spool(self, exc):
        """The body cannot be kept: answered 500 with one line saying why, the app not
        called (as nginx answers a body it cannot buffer), the worker serving on."""
        spool, self.file = self.file, None
        self.refused = True
        self.to_disk()
        if spool is not None:
            try:
                spool.close()
            except OSError:
                pass
        log.error("cannot keep a request body (%d bytes so far) in a temporary file (TMPDIR): %s; "
                  "answered 500 without calling the app", self.size, exc)
        answer_failure(self.res, 500, close=True)  # (the rest of the body is not read)

    def to_disk(self):
        """This body's bytes no longer count in memory (on disk now, or gone)."""
        self.adapter.bodies_in_memory -= self.in_memory
        self.in_memory = 0

    def on_end(self):
        spool = self.file
        if self.refused:
            if spool is not None:
                spool.close()
            return
        if spool is None:
            self.adapter.call(self.req, self.res, InputStream.empty())
            return
        spool.seek(0)
        self.adapter.call(self.req, self.res, InputStream(spool, length=self.size))


class WSGIAdapter:
    def __init__(self, app, *, root_path="", body_spool=1024 * 1024, max_body_size=100 * 1024 * 1024,
                 forwarded_allow_ips=("127.0.0.1", "::1", "unix"), url_scheme="http", threads=1, timeout=30.0):
        self.app = app
        self.root_path = root_path.rstrip("/")
        if "%" in self.root_path:  # percent-encoded (a space must be): SCRIPT_NAME is decoded, as PATH_INFO is
            self.root_path = unquote_to_bytes(self.root_path).decode("latin-1").rstrip("/")
        self.body_spool = body_spool
        self.max_body_size = max_body_size
        allow = forwarded_allow_ips
        if isinstance(allow, str):
            allow = [a.strip() for a in allow.split(",") if a.strip()]
        self.forwarded_allow_ips = frozenset(allow)
        self.url_scheme = url_scheme
        self.threads = max(1, int(threads))
        self.timeout = timeout
        self.errors = Errors()
        self.statuses = {}  # WSGI status line -> (code, reason)
        self.heads = WholeHeads(self.statuses)  # the heads of whole bodies, kept by status and header list
        self.environs = EnvironBuilder(root_path=self.root_path, url_scheme=url_scheme,
                                       forwarded_allow_ips=self.forwarded_allow_ips, errors=self.errors,
                                       multithread=self.threads > 1, file_wrapper=FileWrapper)
        self.connections = self.environs.connections  # (socket -> its environ base, read by each call)
        self.held = HeldBytes()  # bytes of ended calls still waiting on slow readers
        self.bodies_in_memory = 0  # request bodies kept in memory by the spools, together
        # threads = 1: every call's code runs in this one context, as on one thread (wsgi/response.py)
        self.context = contextvars.copy_context()
        self.pool = None
        self.queue = deque()  # (req, res, body) of the calls waiting for the one in progress
        self.busy = False  # a call is in progress

    def setup(self, server):
        self.server = server
        server.unique_host_header = True  # two Host fields: a 400, as gunicorn answers them
        if self.threads == 1:  # (the app runs in self.context: no copy per request; a pool's threads
            server.request_contexts = False  # answer from their own, which held requests' listeners must not run in)
        self.environs.server = server
        self.loop = server.loop
        if self.threads > 1:
            from .threads import ThreadedCalls
            self.pool = ThreadedCalls(self, self.threads, self.timeout)
            server.on("request", self.pool.on_request)
        else:
            # (in the context; a subclass's own on_request is the listener, else start_call, one frame less)
            listener = start_call if type(self).on_request is WSGIAdapter.on_request else type(self).on_request
            server.on("request", partial(self.context.run, listener, self))
        server.on("checkContinue", self.on_check_continue)
        server.on("connect", self.on_connect)
        server.on("connection", written_at_once)

    def close(self, wait=0.0):
        """Stop the thread pool (threads > 1): calls in progress finish first; wait up to
        ``wait`` seconds for them (their clients are gone by then: each stops at its next
        write, its iterable closed on its thread). Returns how many still run."""
        if self.pool is None:
            return 0
        self.pool.close()
        return self.pool.join(wait)

    # -- requests ------------------------------------------------------------------------------
    def too_large(self, req):
        length = req.all_headers.get("content-length")
        return length is not None and length.isdigit() and int(length) > self.max_body_size

    def on_request(self, req, res):
        """A request read: the call now, after the one in progress, or once its body is read."""
        start_call(self, req, res)

    def spool(self, req, res):
        """``req`` has a body: read first (a 413 past ``max_body_size``), then the call."""
        if self.too_large(req):
            answer_failure(res, 413)
            return
        _Spool(self, req, res)

    def on_connect(self, req, socket, head):
        refuse(self.server, req, socket, 400, "CONNECT is not supported.")

    def on_check_continue(self, req, res):
        if self.too_large(req):
            answer_failure(res, 413)  # no 100: the client need not send the body
            return
        res.write_continue()
        if self.pool is not None:
            self.pool.on_request(req, res)
        else:
            self.context.run(type(self).on_request, self, req, res)

    def call(self, req, res, body):
        """Run the app for ``req`` now, or after the calls before it."""
        self.context.run(start_call, self, req, res, body)

    def _run_next(self):
        queue = self.queue
        while queue:
            req, res, body = queue.popleft()
            if not closing(req.socket):
                self.busy = False  # (start_call runs it, not queued again)
                self.context.run(start_call, self, req, res, body)
                return
        self.busy = False

    def call_done(self):
        if self.queue:
            self.loop.call_soon(self._run_next)
        else:
            self.busy = False

    def environ(self, req, body, early_hints=None):
        return self.environs.environ(req, body, early_hints)


def written_at_once(socket):
    socket.turn_holds = False  # (module rules)


def closing(socket):
    """The connection is gone or closes once what it holds is out (a response before
    was cut): a call queued on it is not run, its answer could never be sent."""
    return socket.destroyed or socket.writable_ended


def make_adapter(app, settings):
    return WSGIAdapter(app, root_path=settings.root_path, body_spool=settings.wsgi_body_spool,
                       max_body_size=settings.max_body_size, forwarded_allow_ips=settings.forwarded_allow_ips,
                       threads=settings.threads, timeout=settings.timeout)
