"""What ``await req.response()`` (and ``await req``) waits on: one pending awaitable of a
ClientRequest (client/request.py).

Rules:
- A pending awaitable is settled by the request's first ``response`` (the response,
  collecting its body from then on), ``error`` (raised) or ``close`` (the request
  decides then what it came to); its listeners go at once, so the request keeps
  nothing of a settled awaitable.
- The error raised is a copy of the one the request emitted (``raisable``): the request
  keeps that one for later awaits, and raising it would tie its traceback (the
  awaiting frames, which hold the request) to the request, a reference cycle.
- A cancelled awaitable (its task cancelled, a ``wait_for`` timeout) destroys the
  request, its socket with it. Its listeners stay until the request's ``close``, so the
  destroy's ``error`` has a listener and is not reported as unhandled.
- A ``timeout`` (the ``timeout`` option, ``set_timeout``, an agent's, the global
  agent's 5 s) that only awaiters hear (a pending ``await req``, a pending
  ``res.read()`` or ``async for`` waiting for the next chunk: no ``timeout`` listener
  of the application on the request or the response) destroys the request with
  ETIMEDOUT (``TimedOut``, also a builtin ``TimeoutError``), which the awaiter raises
  (httpx's ReadTimeout): Node's request only emits ``timeout``, and an awaiter nobody
  else looks after would wait for ever on a silent server. The awaiters decide before
  any application listener runs (they are prepended: a ``once`` listener is gone once
  called); a read is watched only while it waits on the network (not while an ``async
  for`` body runs with the socket paused for it: the socket's idle count restarts when
  the wait does, as httpx's read timeout), and none is destroyed while the
  request body is still being written (its ``end()`` not called: the app is uploading).
"""

import asyncio

from ..http.errors import HTTPError
from .state import KEPT_HIGH_WATER


def awaited(res):
    """``res``, taken by an awaiter: its body is kept for a reader (``read()``, ``async
    for``, ``pipe``, a ``data`` listener while it is still coming) up to a high-water
    mark, past which the socket stops reading (so a body streamed by ``async for`` is
    never held whole), and an error that breaks it is raised by ``read()`` rather than
    reported unhandled."""
    res.taken = res.awaited = True
    return res


class TimedOut(HTTPError, TimeoutError):
    """ETIMEDOUT of an awaited request destroyed at a ``timeout`` nobody else heard, and
    a ``TimeoutError`` for ``except`` clauses that expect one."""

    def __init__(self, message="timeout"):
        super().__init__("ETIMEDOUT", message)


def timed_out(req):
    """The error of an awaited request destroyed at a ``timeout`` nobody else heard."""
    seconds = getattr(req.socket if req is not None else None, "timeout", None)
    idle = f"{seconds:g} s" if seconds else "its timeout"
    return TimedOut(f"timeout: the awaited request got no bytes for {idle} (its timeout; a 'timeout' "
                    "listener, or timeout=0, lets it wait longer)")


def unheard(req, res=None):
    """Whether a ``timeout`` now is one only awaiters hear, with the request body sent."""
    return (req is None or req.writable_ended) and only_awaiters(req) and only_awaiters(res)


def only_awaiters(emitter, event="timeout"):
    """Whether every ``event`` listener of ``emitter`` (None: none) is an awaiter's."""
    return emitter is None or all(isinstance(getattr(listener, "__self__", None), (ResponseWaiter, ReadWaiter))
                                  for listener in emitter.listeners(event))


class ReadWaiter:
    """A pending read's (``res.read()``, ``async for``'s wait for its next chunk)
    ``timeout`` watch, until ``stop()``: the response is destroyed at one that no
    application listener hears (the read then raises it). It hears the request's first
    (emitted before the response's) and the response's, ahead of their listeners."""

    __slots__ = ("res", "req")

    def __init__(self, res):
        self.res = res
        self.req = req = res.req
        res.prepend_listener("timeout", self.timed_out)
        if req is not None:
            req.prepend_listener("timeout", self.timed_out)
        socket = res.socket
        if socket is not None and socket.timeout and unheard(req, res):
            socket.set_timeout(socket.timeout)  # (the idle count starts with the wait, as httpx's)

    def stop(self, _=None):
        self.res.off("timeout", self.timed_out)
        if self.req is not None:
            self.req.off("timeout", self.timed_out)

    def timed_out(self):
        res = self.res
        if not res.destroyed and unheard(res.req, res):
            res.destroy(timed_out(res.req))  # (the read raises it; the request closes with its response)


class Iteration:
    """``async for chunk in res`` (``chunks``: streaming.Chunks over it): a loop left
    before the body's end (``break``, an exception) aborts the request (destroys the
    response when the body is complete or the request is gone; leaves a response destroyed
    already alone, with no ``abort``), as Node's ``for await`` does: otherwise its socket,
    paused for the loop, would stay taken for ever (the agent's next request in line with
    it). Which it is, is decided when the loop drops the iterator (at the ``break``, as
    Node's destroyer decides at its ``return()``: a request destroyed just before the
    ``break``, its response not closed yet, still gets its ``abort`` at once, before the
    closes its destroy queued); what else it decided is done on the next loop turn (a
    finalizer, which may run amid any code, does no I/O itself). An iterator collected
    in another thread (a ``gc.collect()`` there), or while its loop is not running, is
    decided then too, and done on its loop (woken for it, thread-safe); one collected
    after its loop closed does nothing."""

    __slots__ = ("res", "chunks", "over")

    def __init__(self, res, chunks):
        self.res = res
        self.chunks = chunks
        self.over = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.over:
            raise StopAsyncIteration
        try:
            return await next_chunk(self.res, self.chunks)
        except StopAsyncIteration:
            self.over = True
            raise
        except BaseException:  # (the stream's error, or the awaiting task cancelled)
            self.leave()()
            raise

    def leave(self):
        """The loop is left before the end: what to do about it (a callable), decided now."""
        self.over = True
        return leaving(self.res)

    def __del__(self):
        if self.over:
            return
        loop = self.res.loop
        if loop.is_closed():  # (nothing is left to abort; a finalizer neither raises nor prints)
            return
        if not _running(loop):
            # collected in another thread (a gc run there) or with its loop not running:
            # decided now, as at a break (it only reads the response's state: a request
            # destroyed before it still gets its abort), done on its loop's next turn, which
            # this wakes
            left = self.leave()
            try:
                loop.call_soon_threadsafe(_left, self.res, left)
            except RuntimeError:  # (its loop closed meanwhile)
                pass
            return
        left = self.leave()
        req = self.res.req
        if left == getattr(req, "abort", None) and req.destroyed:
            left()  # (only marks it aborted and queues its 'abort': before the closes its destroy queued, as Node's)
            return
        loop.call_soon(left)


def _running(loop):
    """Whether ``loop`` runs this thread's code now."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def leaving(res):
    """What to do about an ``async for`` over ``res`` left before the end (a callable)."""
    req = res.req
    if req is not None and not res.complete:
        return req.abort if not res.destroyed else _nothing  # as Node's for-await ends a response: through its request
    return res.destroy


def _left(res, decided):
    """Done on the loop for an iterator collected away from it: what was decided there,
    unless the response came to its end meanwhile (then decided again)."""
    (decided if not res.complete else leaving(res))()


def _nothing():
    pass


async def next_chunk(res, chunks):
    """The next chunk of an ``async for`` over ``res`` (``chunks``: streaming.Chunks),
    watched (ReadWaiter) only while it waits for one: a loop body slower than the
    timeout, the socket paused for it, is no idle server."""
    if chunks.chunks:
        return await chunks.__anext__()  # (one kept: no wait)
    watch = ReadWaiter(res)
    try:
        return await chunks.__anext__()
    finally:
        watch.stop()


def discarded():
    """The error of a read of a body dropped because nobody took its response."""
    return HTTPError("ERR_BODY_DISCARDED", "the response body was discarded: over "
                     f"{KEPT_HIGH_WATER} bytes came before anyone read or awaited the response")


def bound_read(res, future, taken, limit):
    """``future`` (a ``res.read(limit)``'s, ``taken`` collected so far) fails with
    ERR_BODY_TOO_LARGE once more than ``limit`` is collected; ``res`` is destroyed then
    (its download stops). True when it failed at once."""
    def watch(chunk=""):
        nonlocal taken
        taken += len(chunk)
        if taken > limit and not future.done():
            future.set_exception(HTTPError("ERR_BODY_TOO_LARGE", f"the response body is larger than {limit} bytes"))
            res.destroy()
    watch()
    if future.done():
        return True
    res.on("data", watch)
    future.add_done_callback(lambda _: res.off("data", watch))
    return False


def raisable(err):
    """A copy of ``err`` to raise (the error itself for a type that cannot be copied)."""
    try:
        twin = type(err).__new__(type(err), *err.args)
        twin.__dict__.update(vars(err))
        twin.args = err.args  # (an OSError kind's __new__ leaves them to an __init__ not called here)
    except Exception:
        return err
    return twin


class ResponseWaiter:
    """One pending ``response()`` awaitable of ``req``; ``settle(future)`` settles it
    from what the request came to when it closes first."""

    __slots__ = ("req", "future", "settle", "socket")

    def __init__(self, req, future, settle):
        self.req = req
        self.future = future
        self.settle = settle
        self.socket = None  # watched after a timeout came while the body was being written
        req.on("response", self.answered)
        req.prepend_listener("error", self.failed)  # (first: a raising listener stops an emit)
        req.prepend_listener("close", self.closed)
        req.prepend_listener("timeout", self.timed_out)  # (first: see Rules)
        future.add_done_callback(self.cancelled)

    def _forget(self):
        req = self.req
        req.off("response", self.answered)
        req.off("error", self.failed)
        req.off("close", self.closed)
        req.off("timeout", self.timed_out)
        if self.socket is not None:
            self.socket.off("timeout", self.timed_out)
            self.socket = None

    def answered(self, res):
        self._forget()
        if not self.future.done():
            self.future.set_result(awaited(res))

    def failed(self, err):
        if not self.future.done():
            self._forget()
            self.future.set_exception(raisable(err))

    def closed(self):
        self._forget()
        if not self.future.done():
            self.settle(self.future)

    def cancelled(self, future):
        if future.cancelled():
            self.req.destroy()

    def timed_out(self):
        req = self.req
        if self.future.done() or not only_awaiters(req):
            return
        if req.writable_ended:
            req.destroy(timed_out(req))
        elif self.socket is None and req.socket is not None:  # the app still writes the body:
            self.socket = req.socket  # its socket's next timeouts are heard (the request's comes once, Node's)
            self.socket.prepend_listener("timeout", self.timed_out)
