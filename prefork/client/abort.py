"""AbortController and AbortSignal: Node's ``signal`` option of ``http.request``.

Rules:
- ``AbortController().signal`` is given as the ``signal`` option (any object with an
  ``aborted`` attribute and ``on``/``off`` for the ``abort`` event, as Node takes any
  object with ``aborted``; another value is ERR_INVALID_ARG_TYPE, at once).
  ``controller.abort(reason=None)`` marks the signal ``aborted`` with that ``reason``
  (none given: an ``AbortError`` "This operation was aborted") and emits ``abort``
  once; a second call does nothing.
- A request whose signal aborts is destroyed with an ``AbortError`` (code ABORT_ERR,
  "The operation was aborted", its ``cause`` the signal's reason): its ``error``, then
  ``close``, at whatever stage (its response, if one began, is aborted as by
  ``req.destroy(err)``); ``await req`` raises it. A signal already aborted destroys the
  request on the next loop turn, before it asks for a socket, as Node's ``nextTick``.
  The request lets go of the signal at its ``close``: one signal may serve many requests
  without keeping them.
- ``AbortSignal.timeout(seconds)`` aborts itself ``seconds`` after it is made, on the
  running loop, or, made outside one (before ``asyncio.run()``), on the loop of the
  first request that uses it (what is left of its time; again on a later request's
  when that loop has closed before it fired; Node's fires wherever made),
  with a ``TimeoutError`` reason ("The operation was aborted due to timeout"), as Node's
  (Python's own TimeoutError, where Node's is a DOMException of that name). ``seconds``
  not a number is ERR_INVALID_ARG_TYPE, one outside 0-4294967.295 (Node's uint32 of
  milliseconds) ERR_OUT_OF_RANGE, at once, as Node throws.
  ``AbortSignal.abort(reason)`` is one aborted already.
- From a coroutine the usual way is cancelling the task that awaits the request (it
  destroys the request: client/request.py); the signal serves callback code and a
  cancellation shared by several requests.
"""

import asyncio
import time

from ..emitter import EventEmitter
from .port import coded


class AbortError(Exception):
    """Node's AbortError: ``code`` ABORT_ERR, ``name`` AbortError, ``cause`` the reason."""

    code = "ABORT_ERR"
    name = "AbortError"

    def __init__(self, message="The operation was aborted", cause=None):
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.__cause__ = cause if isinstance(cause, BaseException) else None


class AbortSignal(EventEmitter):
    def __init__(self, deadline=None):
        self.aborted = False
        self.reason = None
        self._deadline = deadline  # a timeout() signal's (time.monotonic())
        self._armed = None  # the loop its timer is on

    def throw_if_aborted(self):
        """Raise the reason when aborted (Node's ``throwIfAborted``)."""
        if self.aborted:
            raise self.reason if isinstance(self.reason, BaseException) else AbortError(cause=self.reason)

    def signal_abort(self, reason):
        if not self.aborted:
            self.aborted = True
            self.reason = AbortError("This operation was aborted") if reason is None else reason
            self.emit("abort")

    @classmethod
    def abort(cls, reason=None):
        """A signal aborted already."""
        signal = cls()
        signal.signal_abort(reason)
        return signal

    @classmethod
    def timeout(cls, seconds, loop=None):
        """A signal that aborts ``seconds`` after it is made: on ``loop``, else the running
        one, else (made outside a loop) the loop of the first request that uses it."""
        signal = cls(deadline=time.monotonic() + _delay(seconds))
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return signal  # armed by its first request (``arm``)
        signal.arm(loop)
        return signal

    def arm(self, loop):
        """A ``timeout()`` signal not armed yet, or armed on a loop closed since (an earlier
        ``asyncio.run()``), starts its timer on ``loop`` (what is left of its time); any
        other signal is left as it is."""
        if self._deadline is None or self.aborted or (self._armed is not None and not self._armed.is_closed()):
            return
        self._armed = loop
        loop.call_later(max(0.0, self._deadline - time.monotonic()), self.signal_abort,
                        TimeoutError("The operation was aborted due to timeout"))


def _delay(seconds):
    """``AbortSignal.timeout``'s ``seconds`` checked as Node checks its delay (a uint32 of
    milliseconds): a number (else ERR_INVALID_ARG_TYPE, a TypeError), 0 to 4294967.295
    (else ERR_OUT_OF_RANGE, a ValueError; NaN and infinity too)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE", f'The "delay" argument must be of type number. '
                    f"Received {seconds!r}")
    if not 0 <= seconds <= 4294967.295:  # (NaN too)
        raise coded(ValueError, "ERR_OUT_OF_RANGE", f'The value of "delay" is out of range. It must be >= 0 && '
                    f"<= 4294967.295 (seconds). Received {seconds!r}")
    return seconds


class AbortController:
    def __init__(self):
        self.signal = AbortSignal()

    def abort(self, reason=None):
        self.signal.signal_abort(reason)


def check_signal(signal):
    """``signal`` as Node's ``validateAbortSignal`` takes it."""
    if signal is not None and not (hasattr(signal, "aborted") and callable(getattr(signal, "on", None)) and
                                   callable(getattr(signal, "off", None))):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                    f'The "options.signal" property must be an instance of AbortSignal. Received {signal!r}')
    return signal


class SignalWatch:
    """A request's hold on its signal: destroys it at ``abort``, lets go at its ``close``."""

    __slots__ = ("req", "signal")

    def __init__(self, req, signal):
        self.req = req
        self.signal = signal
        if isinstance(signal, AbortSignal):
            signal.arm(req.loop)  # (a timeout() made outside a loop starts on the request's)
        if signal.aborted:
            req.loop.call_soon(self.aborted)
            return
        signal.on("abort", self.aborted)
        req.once("close", self.release)

    def aborted(self):
        self.release()
        self.req.destroy(AbortError(cause=self.signal.reason))

    def release(self):
        self.signal.off("abort", self.aborted)
