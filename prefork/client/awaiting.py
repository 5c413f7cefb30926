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
  ``res.read()``: no ``timeout`` listener of the application on the request or the
  response) destroys the request with ETIMEDOUT, which the awaiter raises (httpx's
  ReadTimeout): Node's request only emits ``timeout``, and an awaiter nobody else
  looks after would wait for ever on a silent server.
"""

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


def timed_out():
    """The error of an awaited request destroyed at a ``timeout`` nobody else heard."""
    return HTTPError("ETIMEDOUT", "timeout: the awaited request was idle past its timeout (no 'timeout' listener)")


def only_awaiters(emitter, event="timeout"):
    """Whether every ``event`` listener of ``emitter`` (None: none) is an awaiter's."""
    return emitter is None or all(isinstance(getattr(listener, "__self__", None), (ResponseWaiter, ReadWaiter))
                                  for listener in emitter.listeners(event))


class ReadWaiter:
    """A pending read's (``res.read()``, ``async for``) ``timeout`` watch, until
    ``stop()``: the response is destroyed at one that no application listener hears
    (the read then raises it)."""

    __slots__ = ("res",)

    def __init__(self, res):
        self.res = res
        res.on("timeout", self.timed_out)

    def stop(self, _=None):
        self.res.off("timeout", self.timed_out)

    def timed_out(self):
        res = self.res
        if only_awaiters(res) and only_awaiters(res.req):
            res.destroy(timed_out())  # (the read raises it; the request closes with its response)


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

    __slots__ = ("req", "future", "settle")

    def __init__(self, req, future, settle):
        self.req = req
        self.future = future
        self.settle = settle
        req.on("response", self.answered)
        req.on("error", self.failed)
        req.on("close", self.closed)
        req.on("timeout", self.timed_out)
        future.add_done_callback(self.cancelled)

    def _forget(self):
        req = self.req
        req.off("response", self.answered)
        req.off("error", self.failed)
        req.off("close", self.closed)
        req.off("timeout", self.timed_out)

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
        if not self.future.done() and only_awaiters(self.req):
            self.req.destroy(timed_out())
