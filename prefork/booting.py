"""A worker's boot steps that await (an ASGI lifespan startup, an async ``setup(server)``):
heartbeats while they wait, a bound, and a TERM that stops them.

Rules:
- While the step awaits, the loop sends a heartbeat (no stats yet) as it starts and
  then about once a second (a quarter of ``timeout`` when that is shorter): a startup
  awaiting its services longer than ``timeout`` is not taken for a hang, nor is one
  after an import that used most of ``timeout`` (the import is bounded by ``timeout``,
  the step by ``startup_timeout``). Past ``startup_timeout``
  (0: no bound) the step is cancelled (its ``finally`` blocks run) and the boot fails.
- A TERM while the step awaits (the master's, when a graceful stop's bound is near and
  the worker is still booting; or anyone's) cancels it, so its ``finally`` blocks run
  (a pool half opened is closed), and the worker then ends by that TERM
  (``end_by_term``), as it would have by the signal's default action before the step:
  the master tells a stop's TERM from one from outside as it always did. Outside such
  a step (the app's import, a synchronous setup) a TERM keeps its default action.
- A step whose answer is in when the TERM is seen (a lifespan startup that sent
  ``lifespan.startup.complete``, its task not yet resumed: ``answered``) is not
  cancelled: it completes, and ``BootStopped`` says so (``completed``), so the worker
  runs the lifespan shutdown before it ends, as a ready worker would. A TERM that
  comes as the step ends, before its handler is removed, is not lost: the handler's
  removal runs a pending one first, and one arriving later is taken while blocked.
"""

import asyncio
import logging
import os
import select
import signal
import sys

from . import apps

log = logging.getLogger("prefork.worker")

HEARTBEAT_INTERVAL = 1.0  # at most; a quarter of a shorter timeout
STOP_UNWIND = 1.0  # seconds a step cancelled by a TERM gets for its cleanup (the master's lead: stopping.py)


class BootStopped(Exception):
    """A TERM came while a boot step awaited: the step was cancelled, or (``completed``)
    it had completed and is to be undone as a ready worker's would be."""

    def __init__(self, message, completed=False):
        super().__init__(message)
        self.completed = completed


async def beating(channel, timeout, awaitable, bound, what, answered=None):
    """``awaitable``'s result, with heartbeats on ``channel`` while it waits, for ``bound``
    seconds (0: no bound; past it, an AppError naming ``what``); a TERM meanwhile
    cancels it (unless ``answered()``: its answer is in) and raises ``BootStopped``."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(awaitable)
    stopped = []

    def cancel():
        if not task.done() and not (answered is not None and answered()):
            task.cancel()

    def stop(*_):
        if not stopped:
            stopped.append(loop.time() + STOP_UNWIND)
            loop.call_soon_threadsafe(cancel)  # (after the running callback: an answer it sends is seen)
    loop.add_signal_handler(signal.SIGTERM, stop)  # (the loop's wakeup: a TERM wakes it at once)
    signal.signal(signal.SIGTERM, stop)  # (and seen as soon as the interpreter runs: see _unhook)
    try:
        channel.send("hb", stats={})  # (the import's ``timeout`` ends here: the step's own bound starts)
        deadline = loop.time() + bound if bound > 0 else None
        while not task.done():
            wait = min(HEARTBEAT_INTERVAL, timeout / 4)
            for until in ([deadline] if deadline is not None else []) + stopped:
                wait = min(wait, max(0.0, until - loop.time()))
            await asyncio.wait([task], timeout=wait)
            if task.done() or (stopped and loop.time() >= stopped[0]):
                break  # (a step that swallows its cancellation is left, the worker ends)
            if deadline is not None and loop.time() >= deadline:
                task.cancel()
                await asyncio.wait([task], timeout=2.0)  # (the app's startup gets 1 s of it to clean up)
                raise apps.AppError(f"{what} did not complete within startup_timeout ({bound:g} s)")
            channel.send("hb", stats={})
    finally:
        if _unhook(loop):
            stop()
    if stopped:
        if task.done() and not task.cancelled() and task.exception() is None:
            raise BootStopped(f"{what} completed as a TERM came", completed=True)
        raise BootStopped(f"{what} cancelled by a TERM")
    return task.result()


def _unhook(loop):
    """SIGTERM back to its default action; True if a TERM came that the handler did not
    see yet (it is taken, not left to end the process by that action)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        loop.remove_signal_handler(signal.SIGTERM)  # (signal.signal runs a handler pending first)
        if signal.SIGTERM in signal.sigpending():  # (one since the block)
            signal.sigtimedwait({signal.SIGTERM}, 0)
            return True
        return False
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def end_by_term():
    """The process ends by SIGTERM's default action, its output written first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.kill(os.getpid(), signal.SIGTERM)


def told_to_stop(channel, kept, booted=False):
    """Raises ``BootStopped`` if the master told this booting worker to stop (its ``stop``
    message, sent with a TERM): the app's own SIGTERM handler took that TERM while it
    loaded, so the worker never serves. The other messages read go to ``kept``.
    ``booted``: an ASGI lifespan startup has completed (its shutdown is to run)."""
    if not select.select([channel.fileno()], [], [], 0)[0]:
        return
    messages = channel.receive() or []  # (None: the master is gone; the serving worker notices)
    kept.extend(messages)
    if any(message.get("t") == "stop" for message in messages):
        raise BootStopped("a TERM came while the app loaded, and its own SIGTERM handler took it",
                          completed=booted)
