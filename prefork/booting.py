"""A worker's boot steps that await (an ASGI lifespan startup, an async ``setup(server)``):
heartbeats while they wait, a bound, and a TERM that stops them.

Rules:
- While the step awaits, the loop sends a heartbeat (no stats yet) about once a
  second (a quarter of ``timeout`` when that is shorter): a startup awaiting its
  services longer than ``timeout`` is not taken for a hang. Past ``startup_timeout``
  (0: no bound) the step is cancelled (its ``finally`` blocks run) and the boot fails.
- A TERM while the step awaits (the master's, when a graceful stop's bound is near and
  the worker is still booting; or anyone's) cancels it, so its ``finally`` blocks run
  (a pool half opened is closed), and the worker then ends by that TERM
  (``end_by_term``), as it would have by the signal's default action before the step:
  the master tells a stop's TERM from one from outside as it always did. Outside such
  a step (the app's import, a synchronous setup) a TERM keeps its default action.
"""

import asyncio
import logging
import os
import signal
import sys

from . import apps

log = logging.getLogger("prefork.worker")

HEARTBEAT_INTERVAL = 1.0  # at most; a quarter of a shorter timeout
STOP_UNWIND = 1.0  # seconds a step cancelled by a TERM gets for its cleanup (the master's lead: stopping.py)


class BootStopped(Exception):
    """A TERM came while a boot step awaited: the step was cancelled."""


async def beating(channel, timeout, awaitable, bound, what):
    """``awaitable``'s result, with heartbeats on ``channel`` while it waits, for ``bound``
    seconds (0: no bound; past it, an AppError naming ``what``); a TERM meanwhile
    cancels it and raises ``BootStopped``."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(awaitable)
    stopped = []

    def stop():
        if not stopped:
            stopped.append(loop.time() + STOP_UNWIND)
            task.cancel()
    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
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
        if stopped:
            raise BootStopped(f"{what} cancelled by a TERM")
        return task.result()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)  # (back to the default action)


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
