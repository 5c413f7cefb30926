"""Node's readable-stream helpers for a body stream (a request's, a client response's):
``pipe``/``unpipe`` and ``Chunks``, the ``for await`` loop.

Rules:
- ``pipe`` is Node's ``readable.pipe`` for a body stream, with its backpressure. A body
  whose ``end`` was emitted already ends the destination (or, with ``end`` False, is
  unpiped) on the next loop turn, as Node's pipe of an ended stream does.
- ``Chunks`` is ``for await (const chunk of stream)`` for a body stream: ``async for``
  over its ``data`` until ``end``; the stream pauses while a high-water mark of chunks
  waits for the loop body; a ``close`` (or ``error``) before ``end`` raises. Its
  listeners go when the loop ends (the body's end, or the error raised); ``iterate``
  wraps it for a loop that may be left early: its listeners go then too, so nothing
  more is kept for a loop that no longer reads (and the stream, once over, holds no
  listener bound to a ``Chunks`` that refers back to it).
"""

import asyncio
import logging
from collections import deque

from .emitter import EventEmitter

log = logging.getLogger("prefork")


def pipe(source, destination, end=True):
    """Node's ``readable.pipe(destination[, {end}])`` for a body stream (the server's
    request, the client's response): each ``data`` chunk is written to ``destination``,
    ``source`` pauses while a write returns False, until its ``drain``; ``end()`` follows
    the body's ``end`` unless ``end`` is False. ``destination`` needs ``write(chunk)``
    (False: wait for ``drain``), ``end()``, and ``once``/``off`` when it is an emitter
    (a response, a client request, a socket): its ``close`` or ``error`` unpipes it, as
    Node's does. The pipe's listeners on both go at the body's end (or its close), so a
    long-lived destination keeps none. ``unpipe(source, destination)`` undoes it. An
    emitter destination gets Node's ``pipe`` and ``unpipe`` events (with the source)."""
    def on_data(chunk):
        if destination.write(chunk) is False:
            source.pause()
            destination.once("drain", source.resume)

    def stop(*_):  # the destination closed: unpiped, as Node's
        unpipe(source, destination)

    def through(*_):  # the body ended or closed: the pipe's listeners go
        _unpipe(source, destination, pause=False)

    def on_error(err=None):
        unpipe(source, destination)
        if not destination.listener_count("error"):  # nobody else hears it: unhandled, as emit says
            log.error("unhandled 'error' event on %s (a pipe's destination): %r", type(destination).__name__, err,
                      exc_info=err if isinstance(err, BaseException) else None)
    piped = (on_data, destination.end if end else None, stop, on_error, through)
    pipes = source.__dict__.setdefault("_pipes", [])
    pipes.append((destination, piped))
    source.on("data", on_data)
    if end:
        source.once("end", destination.end)
    if isinstance(destination, EventEmitter):
        destination.once("close", stop)
        destination.once("error", on_error)
        source.once("end", through)  # (after destination.end)
        source.once("close", through)
        destination.emit("pipe", source)  # (Node's dest 'pipe' event)
    if getattr(source, "readable_ended", False):  # its 'end' is past: it will not come again
        loop = getattr(getattr(source, "socket", None), "loop", None) or asyncio.get_running_loop()
        loop.call_soon(_ended, source, destination, piped)
    return destination


def _ended(source, destination, piped):
    """A pipe made after its source's ``end``: the destination ends as at that end
    (unless unpiped meanwhile), and the pipe goes."""
    pipes = source.__dict__.get("_pipes")
    if pipes and any(entry[1] is piped for entry in pipes):
        if piped[1] is not None:
            destination.end()
        _unpipe(source, destination, pause=False)


def unpipe(source, destination=None):
    """Node's ``readable.unpipe([destination])``: ``destination`` (every one when None)
    is no longer written to; once no pipe is left the source pauses, as Node's does
    (its body waits for whoever reads it next)."""
    return _unpipe(source, destination, pause=True)


def _unpipe(source, destination, pause):
    pipes = source.__dict__.get("_pipes")
    if not pipes:
        return source
    taken = [entry for entry in pipes if destination is None or entry[0] is destination]
    for entry in taken:
        pipes.remove(entry)
        target, (on_data, on_end, stop, on_error, through) = entry
        source.off("data", on_data)
        if on_end is not None:
            source.off("end", on_end)
        source.off("end", through)
        source.off("close", through)
        if isinstance(target, EventEmitter):
            target.off("close", stop)
            target.off("error", on_error)
            target.off("drain", source.resume)
            target.emit("unpipe", source)
    if pause and taken and not pipes:
        source.pause()
    return source


class Chunks:
    """An async iterator over a readable's body (``data`` until ``end``): what
    ``async for chunk in req`` (or ``res``) runs. ``stream`` has Node's ``pause`` and
    ``resume``; ``aborted`` makes the error raised when it closes before its end."""

    __slots__ = ("stream", "chunks", "size", "done", "error", "waiter", "aborted", "high_water_mark")

    def __init__(self, stream, aborted, high_water_mark=64 * 1024, kept=(), ended=False, closed=False):
        """``kept``: chunks the stream received before (collected by someone else);
        ``ended``: its ``end`` was emitted already; ``closed``: its ``close`` was (before
        its end: the loop raises, once the kept chunks are taken, ``closed`` when it is
        the error the stream was destroyed with, as Node's loop does, else ``aborted()``)."""
        self.stream = stream
        self.chunks = deque(kept)
        self.size = sum(len(chunk) for chunk in kept)
        self.done = ended
        self.error = None
        self.waiter = None
        self.aborted = aborted
        self.high_water_mark = high_water_mark
        stream.on("data", self._data)
        stream.once("end", self._end)
        stream.once("close", self._close)
        stream.once("error", self._error)
        if closed and not ended:  # its 'close' came already: waiting for it would never end
            self.error = _twin(closed) if isinstance(closed, BaseException) else aborted()

    def _wake(self):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _data(self, chunk):
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self.size >= self.high_water_mark:
            self.stream.pause()
        self._wake()

    def _end(self):
        self.done = True
        self._wake()

    def _close(self):
        if not self.done and self.error is None:
            self.error = self.aborted()
        self._wake()

    def _error(self, err):
        if not self.done and self.error is None:
            self.error = _twin(err)  # (raised: the stream keeps the one it emitted)
        self._wake()

    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self.chunks:
            if self.done:
                self.leave()  # (the loop is over: its listeners, bound to it, go)
                raise StopAsyncIteration
            if self.error is not None:
                self.leave()
                error, self.error, self.done = self.error, None, True
                try:
                    raise error
                finally:
                    error = None  # (this frame, in the traceback, holds no error: no cycle)
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        chunk = self.chunks.popleft()
        paused = self.size >= self.high_water_mark
        self.size -= len(chunk)
        if paused and self.size < self.high_water_mark:
            self.stream.resume()
        return chunk

    def leave(self):
        """The loop was left: nothing more is kept for it."""
        self.chunks.clear()
        self.size = 0
        stream = self.stream
        stream.off("data", self._data)
        stream.off("end", self._end)
        stream.off("close", self._close)
        stream.off("error", self._error)


def _twin(err):
    """A copy of ``err`` to raise, so its traceback (the loop's frames, which hold the
    stream) does not tie the stream to an error it keeps; ``err`` itself for a type
    that cannot be copied. The copy reads as ``err``: its ``args`` (its message: a type
    whose ``__init__`` takes other arguments sets them there only), its attributes, its
    cause and context."""
    try:
        twin = type(err).__new__(type(err), *err.args)
        twin.args = err.args
        twin.__dict__.update(vars(err))
    except Exception:
        return err
    twin.__cause__ = err.__cause__
    twin.__context__ = err.__context__
    twin.__suppress_context__ = err.__suppress_context__
    return twin


async def iterate(chunks, left):
    """``chunks``' items; a loop left before the end (``break``, an exception) takes
    its listeners off and calls ``left()`` (the stream's rest goes unread). The generator
    is closed when the loop drops it."""
    finished = False
    try:
        async for chunk in chunks:
            yield chunk
        finished = True
    finally:
        if not finished:
            chunks.leave()
            left()


class Raising:
    """``async for`` over a body that cannot be read (it was discarded): raises
    ``error`` at once."""

    def __init__(self, error):
        self.error = error

    def __aiter__(self):
        return self

    async def __anext__(self):
        raise self.error
