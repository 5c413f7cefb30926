"""A WSGI call on the loop (``threads = 1``); the body rules both kinds of call share are
``wsgi/body.py``, the head's ``wsgi/head.py``.

Rules:
- ``start_response`` records the status and headers (an iterable other than a list or tuple, ``zip()`` or a
  generator, read into a list: they are read more than once); the head goes onto the ``ServerResponse`` when the
  first body bytes (or the end) go out. With ``exc_info`` it replaces them while nothing is out, re-raises after.
- Body blocks are ``bytes``; anything else is the app's error (a 500 while the head is not out).
- The app's Content-Length is kept to (unless the answer has no body: HEAD, 204,
  304): a longer body is cut to it and its iteration stops there (the response ends,
  ``close()`` is called: a generator that would go on for ever holds neither the loop
  nor a thread), a shorter one closes the connection once what there is has gone out,
  so the client never reads the next response as this one's body. Both are logged. An
  answer without a body (HEAD, 204, 304) stops the iteration at the first block.
- A list or tuple body is joined and sent with ``end(data)``: one send, Content-Length
  (HEAD gets the same Content-Length as GET would). Its header list, checked and
  encoded once, is kept as a ``HeaderBlock`` (``_BLOCKS_KEPT`` lists at most) and goes
  out with ``end_with`` when it has no Connection or Date and its Content-Length, if
  any, is the body's: the same bytes as field by field. An HTTP/1.0 client (which the
  server writes no Content-Length for) gets the app's own, and with it keep-alive when
  it asked for that (Node's rule). One over ``WHOLE_WAITS`` whose unsent bytes do not
  fit the worker's ``HeldBytes`` budget keeps its call until they are out, as a
  streamed body does (a client that takes nothing is cut by the ``StallWatch``).
- Any other iterable is streamed with backpressure: iteration pauses while the socket's buffer is over its
  high-water mark and resumes on ``drain``. When the buffer pushes back and the app has no block left (a Flask
  response is one block), the call ends there, its bytes left to the socket, as long as the worker's
  ``HeldBytes`` budget (``HELD_BUDGET``) takes them: one slow reader does not hold the worker's one call. Each
  block (and each ``write()``) goes to the kernel as it is made, even inside the read that started the call
  (``push_out``): the client sees the first block before the app makes the next. ``close()`` is called on the
  iterable exactly once in every case, also when the client goes away while the call waits for ``drain`` (the
  response's ``close`` ends the call). An iteration that held the loop for ``TURN`` seconds lets it take a turn
  before its next block (heartbeats, signals: a graceful stop's cut ends an endless stream, ``close()`` called,
  as a client leaving does). A block taken from the iterable and not sent yet (the call
  waits on write()'s bytes on disk, or on a client that pushes back) is kept in the
  call's one slot (``taken``), sent first when the call resumes, never by wrapping the
  iterator: a call that waited many times holds no block it sent, and its next block
  costs what the first did. How a call waits is ``wsgi/waiting.py``'s.
- ``write()`` to a client gone mid-response (its socket destroyed, also by that write's
  send) raises ``ClientDisconnected``, an ``OSError``, as on threads and under gunicorn.
- ``write()`` cannot make the app wait without holding the loop (and every other
  connection of the worker): once the response pushes back, what it is given goes to
  the call's ``Spill`` (a temporary file, wsgi/spill.py) and reaches the response as
  the socket drains. The call (the worker's one) waits for those bytes as it waits for
  ``drain``: the iteration goes on after them, and the response ends after them.
- A client that takes no byte of a response for ``timeout`` seconds while bytes wait for it (``StallWatch``) is
  disconnected: a reader that never reads holds neither a thread nor, with ``threads = 1``, the worker's one
  call for good. A ``wsgi.file_wrapper`` around a regular file opened in binary mode (``open(path, "rb")``, not
  a ``GzipFile`` whose ``fileno()`` is the compressed file's) goes out with ``os.sendfile`` when its length is
  known and ``write()`` has not started the body (the file is then the rest of it), on a plain connection (over
  TLS the kernel would send the file unencrypted); any other is iterated. The call ends (``close()`` included)
  as the transfer starts: the transfer owns a duplicate of the descriptor.
- An exception in the app gives a 500 if nothing was sent (otherwise the connection is
  closed) and is logged with its traceback; the worker goes on serving (``SystemExit``
  and ``KeyboardInterrupt`` raised by the app included).
- The app's code (the call, its iteration, ``close()``) runs as on the one thread of a
  synchronous server:
  - with no running event loop registered for the thread: a WSGI app is synchronous
    code, and libraries check for a running loop to refuse blocking work in async code
    (Django's ORM raises ``SynchronousOnlyOperation``; ``asyncio.run()`` and asgiref's
    ``async_to_sync``, behind Django's and Flask's async views, refuse to run). The
    loop's own callbacks never run meanwhile (the call holds the thread), and it is put
    back when the app's code returns;
  - in one ``contextvars`` context for every call of the worker (``adapter.context``),
    not in the context of whichever loop callback runs it: a streamed body resumed on
    ``drain`` is iterated in the context it started in (Flask's ``stream_with_context``
    resets its context variables at the end with tokens made at the start; asgiref's
    ``Local``, behind Django's database connections, lives in context variables), and
    what one call leaves in a context variable the next one sees, as on one thread.
"""

import logging
import sys
from time import monotonic
from asyncio import _set_running_loop  # the stdlib's hook for loop implementations

from .body import (CallAborted, answer_failure, as_app_code, check_restart, close_iterable, end_whole, HEAD_ALONE,
                   over_length, promised_length, under_length)
from .head import apply_head, early_hints, not_bytes
from .sending import FileSending, StallWatch
from .spill import Spill, pushes_back, push_out
from .waiting import CallWaits
from .pipe import ClientDisconnected, call_over
from .streams import EMPTY_INPUT, FileWrapper

log = logging.getLogger("prefork.wsgi")

WHOLE_WAITS = 256 * 1024  # a whole body larger than this goes through the held budget
TURN = 0.05  # seconds a streamed body's iteration holds the loop before the loop gets a turn
_DONE = object()  # (the iterator's end)
assert HEAD_ALONE <= WHOLE_WAITS  # (a body sent with its kept head never waits out its bytes)


class LoopCall(CallWaits, FileSending):
    """One WSGI call on the loop: start_response, then the iterable with backpressure.
    Made by ``start_call`` (no __init__: built where it starts, one frame less a call)."""

    __slots__ = ("adapter", "req", "res", "status", "headers", "iterable", "iterator", "finished",
                 "promised", "stall", "on_gone", "watching", "spill", "over", "prepared", "taken")

    def prepare(self):
        """The state of a call that writes, streams, sends a file, waits or fails (unset before)."""
        self.prepared = True
        self.iterator = None
        self.taken = None  # a block taken from the iterator and not sent yet (module rules)
        self.promised = None  # body bytes the app's Content-Length still promises
        self.stall = None  # a StallWatch once the call waits for 'drain'
        self.on_gone = None  # callbacks run when the client goes away mid-call
        self.spill = None  # write()'s bytes while the response pushes back (wsgi/spill.py)
        self.over = False  # finished and closed: a write() now comes from a thread the app left behind
        self.watching = False  # the response's close ends the call (once the app returned)

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None or self.status is not None:
            check_restart(self.res.headers_sent, exc_info)
        self.status = status
        self.headers = headers if headers.__class__ is list or isinstance(headers, (list, tuple)) else list(headers)
        return self.write

    def _send_head(self):
        if self.res.headers_sent:
            return None
        if self.status is None:
            raise AssertionError("the app returned before calling start_response")
        names = apply_head(self.res, self.status, self.headers, self.adapter.statuses)
        if "content-length" in names:
            self.promised = promised_length(self.res, self.req.method)
        return names

    def _kept(self, block):
        """``block`` cut to what the Content-Length still allows (logged once)."""
        promised = self.promised
        if promised is not None:
            if len(block) > promised:
                if promised >= 0:
                    over_length(self.req, self.res.get_header("content-length"))
                self.promised = -1  # over: nothing more goes out
                return block[:max(promised, 0)]
            self.promised = promised - len(block)
        return block

    def _end(self):
        """End the response; a body short of its Content-Length closes the connection."""
        self._send_head()
        promised, self.promised = self.promised, None
        if promised is not None and promised > 0 and under_length(self.req, self.res, promised):
            return  # the connection closes after what was sent
        self.res.end()

    def write(self, data):
        """The legacy write() callable: to the response while it takes more; once it
        pushes back, to the call's ``Spill`` until it drains (the app cannot be made to
        wait without holding the loop)."""
        if data.__class__ is not bytes and not isinstance(data, bytes):
            raise not_bytes(data)
        if self.finished:
            if not self.prepared or self.over:  # (a thread the app started, writing after the call returned)
                raise call_over()
            return  # (from the iterable's close(): dropped, the response is done)
        self.prepared or self.prepare()
        res = self.res
        if not res.req.socket.writable and not res.writable_ended:  # (gone, or a send refused: told next turn)
            raise ClientDisconnected("the client went away")
        self._send_head()
        data = self._kept(data)
        spill = self.spill
        if spill is not None and spill.waiting:
            if data:
                spill.add(data)  # after the bytes waiting before it
            return
        ok = res.write(data)
        push_out(res.req.socket)
        if not res.req.socket.writable and not res.writable_ended:  # (this send failed: the client left)
            raise ClientDisconnected("the client went away")
        if pushes_back(res, ok):
            if spill is None:
                if self.stall is None:
                    self.stall = StallWatch(res, self.adapter.timeout)
                spill = self.spill = Spill(res, self.stall)
            spill.wait()

    def early_hints(self, headers):
        """``wsgi.early_hints``: a 103 with ``headers``, sent at once."""
        hints = early_hints(headers)
        res = self.res
        if not res.headers_sent and self.req.http_version != "1.0":
            res.write_early_hints(hints)
            push_out(res.req.socket)

    __call__ = early_hints  # (the call is its environ's ``wsgi.early_hints``)

    def pump(self):
        """Send blocks until the socket pushes back; resume on 'drain'. Runs as the app's
        code: inside ``start``, or from ``resume``."""
        res = self.res
        turn_ends = monotonic() + TURN
        iterator = self.iterator
        try:
            while True:
                block = self.taken
                if block is None:
                    block = next(iterator, _DONE)
                    if block is _DONE:
                        break
                else:
                    self.taken = None  # (the block goes out now: the slot no longer keeps it)
                if block.__class__ is not bytes and not isinstance(block, bytes):
                    raise not_bytes(block)
                if not block:
                    continue
                spill = self.spill
                if spill is not None and spill.waiting:  # write()'s bytes wait on disk: the block goes after them
                    self.taken = block
                    self._after_spill(self.resume)
                    return
                self._send_head()
                if res.req.socket.destroyed:
                    break
                if self.req.method == "HEAD" or not res.has_body_status():
                    break  # no body goes out: the iteration stops at the head (an endless stream's too)
                if self.promised is not None:
                    block = self._kept(block)
                    if self.promised < 0:  # over its Content-Length: the body is whole, what follows is not sent
                        if block:
                            res.write(block)
                            push_out(res.req.socket)
                        break  # (an app that would go on for ever does not hold the worker)
                    if not block:
                        continue
                ok = res.write(block)
                push_out(res.req.socket)  # (on the wire before the app is asked for its next block)
                if not ok and not res.destroyed:  # (closed: False, and no drain comes)
                    if self._ended_early():
                        return
                    if pushes_back(res, False):
                        self._wait(self.resume)  # corked, the connection's uncork sends it, then 'drain'
                    elif not res.destroyed:
                        # the app's next step (taken by _ended_early) wrote: its write()
                        # pushed the bytes out and the 'drain' came already
                        res.req.socket.loop.call_soon(self.resume)
                    return
                if monotonic() > turn_ends and not res.destroyed:  # the loop's turn (module rules)
                    self._watch_gone()  # (a cut meanwhile ends the call)
                    res.req.socket.loop.call_later(0, self.resume)  # (after the turn's I/O and due timers)
                    return
            spill = self.spill
            if spill is not None and spill.waiting:
                self._after_spill(self._spilled_out)  # the app is done; its bytes on disk go first
                return
            self._end()
        except BaseException:
            self.failed()
            return
        self.finish()

    def _after_spill(self, then):
        """``then()`` once write()'s bytes on disk are handed to the response (the call
        waits for them, as for 'drain'); a client gone meanwhile ends the call."""
        self._watch_gone()
        self.spill.then = then

    def _spilled_out(self):
        """The app was done; the last of write()'s bytes are handed to the response."""
        try:
            self._end()
        except BaseException:
            self.failed()
            return
        self.finish()

    def resume(self):
        """'drain' (or the loop's turn): the iteration goes on, as the app's code, unless the call ended."""
        if not self.finished:
            as_app_code(self.adapter.context, LoopCall.pump, self)

    def _ended_early(self):
        """The socket pushes back: when the app has no block left (StopIteration) and the
        worker's ``held`` budget takes what waits on the socket, the response ends and the
        call is done now, so the worker's next call does not wait on this client (the
        socket's own ``send_timeout`` bounds a client that never reads); else the block
        taken goes first when the call resumes. Taking the next block runs the app's code:
        write()s it made that wait on disk go before the end (the call waits for them).
        True when the call is done or waits on disk. Not for a response queued behind
        another (pipelined), whose bytes it holds itself."""
        res = self.res
        socket = res.req.socket
        held = self.adapter.held
        if not res.active or not held.fits(socket.buffered_size):
            return False  # (a response queued behind another keeps its bytes itself: it waits)
        try:
            block = next(self.iterator)
        except StopIteration:
            if self.spill is not None and self.spill.waiting:  # its last write()s wait on disk: they go first
                self._after_spill(self._spilled_out)
                return True
            self._end()
            held.hold(socket, socket.buffered_size)
            self.finish()
            return True
        if block is None:  # (None in the slot means "no block kept": refused here, as pump refuses it)
            raise not_bytes(block)
        self.taken = block  # (its own slot: wrapping the iterator would keep every block sent)
        return False

    def failed(self):
        kind = sys.exc_info()[0]
        if kind is ClientDisconnected:  # from write(): the client left, nothing to answer
            log.debug("client gone during %s %s", self.req.method, self.req.url)
        else:
            log.exception("error in WSGI app for %s %s", self.req.method, self.req.url)
            answer_failure(self.res, close=kind is CallAborted)  # (aborted: no request after it is run)
        self.finish()

    def finish(self):
        if self.finished:
            return
        self.finished = True
        self.taken = None
        if self.stall is not None:
            self.stall.cancel()
        iterable = self.iterable
        if iterable is not None and iterable.__class__ is not list:  # (None: a list's, or the app raised)
            as_app_code(self.adapter.context, close_iterable, iterable)
        errors = self.adapter.errors
        if errors.held:
            errors.flush()  # a line wsgi.errors holds without its end (close() may write too)
        self.over = True
        self.adapter.call_done()


def start_call(adapter, req, res, body=None):
    """Make the ``LoopCall`` of ``req`` and call the app, in ``adapter.context`` (the loop taken off
    here). ``body`` None: a request just read (the adapter's 'request' listener): one with a
    body is read first (``adapter.spool``, which comes back with it). Not run while a call is
    in progress (queued: ``adapter.call_done()`` runs the next) nor on a connection gone or
    closing (its answer could never be sent). A call done at once (a list body) ends here,
    any other's end runs ``adapter.call_done()``."""
    if body is None:
        fields = req.all_headers  # (the framing fields may be past max_headers_count's cut)
        if "transfer-encoding" in fields or ("content-length" in fields and fields["content-length"] != "0"):
            adapter.spool(req, res)
            return
        body = EMPTY_INPUT
    if adapter.busy:
        adapter.queue.append((req, res, body))
        return
    socket = req.socket
    if socket.writable_ended or socket.destroyed:
        return  # (the adapter's rules)
    adapter.busy = True
    call = LoopCall()
    call.adapter = adapter
    call.req = req
    call.res = res
    call.status = call.iterable = None  # (headers: with the status, read only once it is set)
    call.finished = call.prepared = False  # (the rest of its state: ``prepare``, once needed)
    running = adapter.loop
    _set_running_loop(None)  # the app's code runs as under a synchronous server (module rules)
    try:
        try:
            conn = adapter.connections.get(socket)
            headers = req.headers
            if conn is not None and req.url == conn.url and headers == conn.headers and req.method == conn.method \
                    and req.http_version == conn.version and req.all_headers is headers:
                environ = conn.request.copy()  # the last request again (EnvironBuilder.environ's test)
                if body is not EMPTY_INPUT:
                    environ["wsgi.input"] = body
                environ["prefork.request"] = req
                environ["wsgi.early_hints"] = call  # (callable: its early_hints, no bound method made)
            else:
                environ = adapter.environs.environ(req, body, call)
            iterable = adapter.app(environ, call.start_response)
            kind = iterable.__class__
            if (kind is list or kind is tuple) and not res.headers_sent:
                # all in memory already: one send, with Content-Length
                data = iterable[0] if len(iterable) == 1 else b"".join(iterable)
                if data.__class__ is not bytes and not isinstance(data, bytes):
                    raise not_bytes(data)
                status = call.status
                if status is None:
                    raise AssertionError("the app returned before calling start_response")
                method = req.method
                if method != "HEAD":
                    heads = adapter.heads
                    headers = call.headers
                    if not (headers == heads.headers and status == heads.status and status.__class__ is str):
                        heads.get(status, headers)  # (WholeHeads.get's first test, inlined: its fields are the head's)
                    # the response writes a Content-Length itself only for a client
                    # that reads chunked (HTTP/1.0's keeps the app's, or none; a
                    # 304's, the representation's, is the app's)
                    size = len(data)
                    fits = heads.fits
                    if fits == size and res.can_chunk or fits is None and size <= HEAD_ALONE:
                        res.end_with(heads.code, heads.block, data, heads.reason)  # (not over WHOLE_WAITS)
                        call.finished = call.over = True  # (a list: nothing to close; a later write() raises)
                        if adapter.errors.held:
                            adapter.errors.flush()
                        if adapter.queue:  # (adapter.call_done(), inlined)
                            adapter.call_done()
                        else:
                            adapter.busy = False
                        return
                names = apply_head(res, status, call.headers, adapter.statuses,
                                   None if method == "HEAD" or not res.can_chunk or len(data) > HEAD_ALONE
                                   else len(data))
                end_whole(res, names, data, method, req)  # (a large body: its head first, no copy)
                if len(data) > WHOLE_WAITS and call.waits_out():
                    return
                call.finished = call.over = True
                if adapter.errors.held:
                    adapter.errors.flush()
                adapter.call_done()
                return
            call.iterable = iterable  # (a list's is not kept: it has nothing to close)
            call.prepared or call.prepare()
            if kind is FileWrapper and call.try_sendfile():
                return
            call.iterator = iter(iterable)
        except BaseException:  # SystemExit from the app included: the worker serves on
            call.prepared or call.prepare()
            call.failed()
            return
        call.pump()
    finally:
        _set_running_loop(running)
