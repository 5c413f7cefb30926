"""EventEmitter with Node's semantics, in Python names.

Rules:
- Listeners run synchronously in registration order; an exception in a plain listener
  propagates to whoever called ``emit`` (as in Node). ``emit('error')`` with no
  listener logs the error instead of raising it.
- A listener may be a coroutine function (``async def``, or one Cython or mypyc compiled:
  any coroutine asyncio runs): the coroutine it returns runs as a task on the running
  asyncio loop. The task takes its first step on the next loop
  turn, after the plain listeners of the same ``emit`` (their order is Node's). The
  emitter keeps a reference until the task is done. A caller that calls a listener
  itself (the server's one ``request`` listener) hands its result, unless None or of a
  type in ``PLAIN_RESULTS``, to ``listener_returned``, which does what ``emit`` does.
  A task that raises goes to ``listener_failed(event, error, args)``: it logs, and
  subclasses handle it as they handle a raising plain listener (the server answers
  500, or closes). ``SystemExit`` and ``KeyboardInterrupt`` do not go there: asyncio
  raised them out of the loop's run already (they end the worker, as a plain one's).
- ``newListener`` (before the listener is added) and ``removeListener`` (after it is
  gone) are emitted as Node emits them, with the event's name and the listener as given
  (a ``once`` listener's own function), when somebody listens to them. Past
  ``get_max_listeners()`` listeners of one event (10; ``set_max_listeners(0)``: no limit)
  a ``MaxListenersExceededWarning`` is warned once per emitter and event, as Node warns
  of a likely leak; nothing is refused.
- A listener that is not callable is refused where it is given (``on``, ``once``, the
  ``prepend`` forms, ``off``) with Node's TypeError (code ``ERR_INVALID_ARG_TYPE``), not
  at the emit that would call it (a request's 500, far from the mistake).
- An emitter may have a ``context`` (a request's: a copy of the context it was made
  in, ``contextvars.copy_context()``): its listeners then run in it, whoever emits, so what a request's
  listeners set in ``ContextVar``s (a request id, a user) is seen by every listener of
  that request and by the tasks they start, and by nothing else. A coroutine listener's
  task runs in a copy of it (asyncio's): what the coroutine sets is its own (and its
  tasks'), not seen by the request's other listeners. An emit made inside
  that context already runs its listeners there at once.
- ``pipe``, ``unpipe`` and ``Chunks`` (``for await``) for body streams: streaming.py.
- ``settle_on`` settles a future by the first of two events (``end`` or ``close`` for
  ``req.body()``; the client's ``response()`` has its own waiter, client/awaiting.py) and takes
  the other listener off, so the emitter keeps nothing of a settled future (whose error
  may hold, through its traceback, the frames that hold the emitter: a cycle); a
  cancelled future takes both off.
- ``drained`` is asyncio's ``await writer.drain()`` for a writable (a response, a
  client request): done at once unless a ``write()`` said False, else at its ``drain``;
  a ``close`` first with bytes still unsent raises ``PrematureClose`` (so a producer's
  loop stops when its client goes). A cancelled wait takes its listeners off.
"""

import asyncio
import logging
from asyncio import iscoroutine
import warnings
from types import CoroutineType

from .http.errors import PrematureClose

log = logging.getLogger("prefork")

entered = [None]  # the request context the loop's thread runs in now (entered by run_in, or as it does)


def run_in(context, function, *args):
    """``function(*args)`` in ``context``, a request's: an emit inside, of any emitter of
    that request, runs its listeners at once rather than entering it again (which
    Python refuses). Only the loop's thread emits on requests and responses."""
    outer = entered[0]
    entered[0] = context
    try:
        return context.run(function, *args)
    finally:
        entered[0] = outer


class MaxListenersExceededWarning(RuntimeWarning):
    """More listeners of one event than the emitter's maximum: a likely leak (Node's warning)."""


class _Once:
    __slots__ = ("emitter", "event", "listener", "fired")

    def __init__(self, emitter, event, listener):
        self.emitter = emitter
        self.event = event
        self.listener = listener
        self.fired = False

    def __call__(self, *args):
        if self.fired:
            return None
        self.fired = True
        self.emitter.off(self.event, self)
        return self.listener(*args)


class _Settler:
    __slots__ = ("emitter", "future", "done_event", "result", "fail_event", "error")

    def __init__(self, emitter, future, done_event, result, fail_event, error):
        self.emitter = emitter
        self.future = future
        self.done_event = done_event
        self.result = result
        self.fail_event = fail_event
        self.error = error
        emitter.once(done_event, self.done)
        emitter.once(fail_event, self.fail)
        future.add_done_callback(self.settled)

    def settled(self, future):
        if future.cancelled():
            self.emitter.off(self.done_event, self.done)
            self.emitter.off(self.fail_event, self.fail)

    def done(self, *args):
        self.emitter.off(self.fail_event, self.fail)
        value = self.result(*args)
        if not self.future.done():
            self.future.set_result(value)

    def fail(self, *args):
        self.emitter.off(self.done_event, self.done)
        error = self.error(*args)
        if not self.future.done():
            self.future.set_exception(error)


def settle_on(emitter, future, done_event, result, fail_event, error):
    """``future`` gets ``result(*args)`` of ``done_event`` or the exception ``error(*args)``
    of ``fail_event``, whichever ``emitter`` emits first; the other listener goes then."""
    _Settler(emitter, future, done_event, result, fail_event, error)
    return future


_FATAL = (SystemExit, KeyboardInterrupt)  # raised out of the loop's run by the task itself
# types a listener returned that are no coroutine (res.end()'s response, emit's bool...): a
# caller of a listener that finds its result's type here has nothing more to do with it
PLAIN_RESULTS = {bool}


def _foreign_coroutine(result):
    """``result`` (not None, not CPython's coroutine) is one asyncio runs (Cython's,
    mypyc's); the answer for a type that is not is kept, so a listener that returns a
    value (``lambda req, res: res.end()``) costs one set lookup a call."""
    kind = type(result)
    if kind in PLAIN_RESULTS:
        return False
    if iscoroutine(result):
        return True
    if len(PLAIN_RESULTS) < 256:
        PLAIN_RESULTS.add(kind)
    return False


def drained(stream):
    """An awaitable: ``stream`` may take more writes (see the module's rules)."""
    future = asyncio.get_running_loop().create_future()
    if stream.destroyed and not stream.writable_finished:
        future.set_exception(PrematureClose())
    elif stream.writable_need_drain:
        _DrainWaiter(stream, future)
    else:
        future.set_result(None)
    return future


class _DrainWaiter:
    __slots__ = ("stream", "future")

    def __init__(self, stream, future):
        self.stream = stream
        self.future = future
        stream.once("drain", self.drained)
        stream.once("close", self.closed)
        future.add_done_callback(self.settled)

    def drained(self):
        if not self.future.done():
            self.future.set_result(None)

    def closed(self):
        if not self.future.done():
            if self.stream.writable_finished:
                self.future.set_result(None)
            else:
                self.future.set_exception(PrematureClose())

    def settled(self, future):
        self.stream.off("drain", self.drained)
        self.stream.off("close", self.closed)


def _not_callable(listener):
    if listener is None:
        received = "None"
    elif isinstance(listener, (bool, int, float, str, bytes)):
        received = f"type {type(listener).__name__} ({listener!r})"
    else:
        received = f"an instance of {type(listener).__name__}"
    err = TypeError(f'The "listener" argument must be callable. Received {received}')
    err.code = "ERR_INVALID_ARG_TYPE"
    return err


class EventEmitter:
    _events = None  # created on the first listener: most messages never get one
    default_max_listeners = 10  # Node's EventEmitter.defaultMaxListeners
    _max_listeners = None  # set_max_listeners' (None: the default)
    _warned = None  # the events already warned of (MaxListenersExceededWarning)

    def on(self, event, listener):
        if not callable(listener):
            raise _not_callable(listener)
        if self._events is None:
            self._events = {}
        elif "newListener" in self._events:
            self._new_listener(event, listener)
        listeners = self._events.get(event)
        if listeners is None:
            self._events[event] = [listener]
        else:
            listeners.append(listener)
            most = self.default_max_listeners if self._max_listeners is None else self._max_listeners
            if 0 < most < len(listeners):
                self._warn_count(event, len(listeners))
        return self

    add_listener = on

    def prepend_listener(self, event, listener):
        if not callable(listener):
            raise _not_callable(listener)
        if self._events is None:
            self._events = {}
        elif "newListener" in self._events:
            self._new_listener(event, listener)
        listeners = self._events.setdefault(event, [])
        listeners.insert(0, listener)
        most = self.get_max_listeners()
        if 0 < most < len(listeners):
            self._warn_count(event, len(listeners))
        return self

    def _new_listener(self, event, listener):
        self.emit("newListener", event, listener.listener if isinstance(listener, _Once) else listener)

    def _warn_count(self, event, count):
        if self._warned is None or event not in self._warned:
            if self._warned is None:
                self._warned = set()
            self._warned.add(event)
            warnings.warn(f"Possible EventEmitter memory leak detected. {count} {event!r} listeners added "
                          f"to {type(self).__name__}. Use set_max_listeners() to increase the limit",
                          MaxListenersExceededWarning, stacklevel=3)

    def set_max_listeners(self, n):
        """Node's ``setMaxListeners``: warn past ``n`` listeners of one event (0: never)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            err = ValueError(f'The value of "n" is out of range. It must be a non-negative number. Received {n!r}')
            err.code = "ERR_OUT_OF_RANGE"
            raise err
        self._max_listeners = n
        return self

    def get_max_listeners(self):
        return self.default_max_listeners if self._max_listeners is None else self._max_listeners

    def event_names(self):
        """The events that have listeners, in the order of their first listener (Node's ``eventNames``)."""
        return list(self._events) if self._events else []

    def raw_listeners(self, event):
        """The listeners of ``event`` with ``once`` wrappers as they are (Node's ``rawListeners``)."""
        listeners = self._events.get(event) if self._events else None
        return list(listeners or ())

    def once(self, event, listener):
        if not callable(listener):
            raise _not_callable(listener)
        return self.on(event, _Once(self, event, listener))

    def prepend_once_listener(self, event, listener):
        if not callable(listener):
            raise _not_callable(listener)
        return self.prepend_listener(event, _Once(self, event, listener))

    def off(self, event, listener):
        if not callable(listener):
            raise _not_callable(listener)
        listeners = self._events.get(event) if self._events else None
        if not listeners:
            return self
        for i in range(len(listeners) - 1, -1, -1):
            item = listeners[i]
            if item == listener or (isinstance(item, _Once) and item.listener == listener):
                del listeners[i]
                if not listeners:
                    del self._events[event]
                if "removeListener" in self._events:
                    self.emit("removeListener", event, item.listener if isinstance(item, _Once) else item)
                break
        return self

    remove_listener = off

    def remove_all_listeners(self, event=None):
        if self._events:
            if "removeListener" in self._events:  # each one reported, last first (as Node)
                for name in ([event] if event is not None else [e for e in self._events if e != "removeListener"]
                             + ["removeListener"]):
                    for listener in list(reversed(self._events.get(name, ()))):
                        self.off(name, listener)
            elif event is None:
                self._events.clear()
            else:
                self._events.pop(event, None)
        return self

    def listener_count(self, event, listener=None):
        """Node's ``listenerCount(event[, listener])``: the listeners of ``event``, or
        how many of them are ``listener`` (a ``once`` one counted by its function)."""
        if not self._events:
            return 0
        listeners = self._events.get(event)
        if not listeners:
            return 0
        if listener is None:
            return len(listeners)
        return sum(1 for item in listeners
                   if item == listener or (isinstance(item, _Once) and item.listener == listener))

    def listeners(self, event):
        listeners = self._events.get(event) if self._events else None
        return [l.listener if isinstance(l, _Once) else l for l in listeners or ()]

    context = None  # a request's context the listeners run in (None: the emitter's caller's)

    def emit(self, event, *args):
        listeners = self._events.get(event) if self._events else None
        if not listeners:
            if event == "error":
                err = args[0] if args else None
                log.error("unhandled 'error' event on %s: %r", type(self).__name__, err,
                          exc_info=err if isinstance(err, BaseException) else None)
            return False
        context = self.context
        if context is not None and context is not entered[0]:
            return run_in(context, self.emit, event, *args)
        if len(listeners) == 1:
            result = listeners[0](*args)
            # (a type seen before to be no coroutine: one set lookup, no call)
            if result is not None and type(result) not in PLAIN_RESULTS and \
                    (type(result) is CoroutineType or _foreign_coroutine(result)):
                self._run_task(result, event, args)
        else:
            for listener in tuple(listeners):
                result = listener(*args)
                if result is not None and type(result) not in PLAIN_RESULTS and \
                        (type(result) is CoroutineType or _foreign_coroutine(result)):
                    self._run_task(result, event, args)
        return True

    # -- coroutine listeners ---------------------------------------------------------
    _tasks = None

    def listener_returned(self, event, result, args):
        """What ``emit`` does with what a listener of ``event`` called with ``args``
        returned, for a caller that called it itself (``result`` not None, its type not
        in ``PLAIN_RESULTS``): a coroutine runs as a task."""
        if type(result) is CoroutineType or _foreign_coroutine(result):
            self._run_task(result, event, args)

    def pending_tasks(self):
        """The tasks of this emitter's coroutine listeners still running."""
        return [task for task in self._tasks or () if not task.done()]

    def _run_task(self, coro, event, args):
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro)
        if task.done():  # finished before its first suspension (eager task factories)
            self._task_done(task, event, args)
            return
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, event, args))

    def _task_done(self, task, event, args):
        if self._tasks is not None:
            self._tasks.discard(task)
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, _FATAL):
            self.listener_failed(event, error, args)

    def listener_failed(self, event, error, args):
        """A coroutine listener of ``event`` raised ``error`` (plain listeners raise to
        ``emit``'s caller instead); a cancelled one (``CancelledError``: the worker's exit
        cancels what is left) is not logged here."""
        if not isinstance(error, asyncio.CancelledError):
            log.error("error in an async %r listener of %s", event, type(self).__name__, exc_info=error)
