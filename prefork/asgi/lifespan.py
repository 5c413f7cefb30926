"""The ASGI lifespan protocol, once per worker.

Rules:
- ``startup()`` runs the app with a ``lifespan`` scope whose ``state`` dict is the one
  every request scope gets a shallow copy of; it returns once the app answers
  ``lifespan.startup.complete``. ``lifespan.startup.failed`` raises ``LifespanFailed``
  (the worker treats it as a failed boot): the app's message (Starlette's is a
  traceback) is logged once here, and the exception says it in one line, its last.
- An app that raises before answering startup does not speak lifespan: with
  ``mode = "auto"`` that is logged at info level and the worker serves on; with
  ``mode = "on"`` it is a failed boot. ``mode = "off"`` never calls the app. A
  ``SystemExit`` (``sys.exit()``) or ``KeyboardInterrupt`` there is the app asking not
  to start: a failed boot in either mode, said in one line. Neither escapes the
  lifespan's task (it would end the worker's loop where it stands); at shutdown they
  are logged as any failure. The one line names the exception and its message (its
  name alone when it has none, not a dangling ``RuntimeError:``).
- An app that returns before answering startup is taken as done with it. A
  ``lifespan.shutdown.*`` answer sent before the startup's raises in the app's ``send``
  (a startup left unanswered would hang the boot): uncaught, it is the app raising
  before answering startup, above.
- ``shutdown()`` sends ``lifespan.shutdown`` and waits, at most ``timeout`` seconds, for
  the answer; a failure there is logged, never raised. Past ``timeout`` it is given
  up: logged once, its task cancelled (its ``finally`` blocks run, for at most
  ``_CANCELLED_UNWIND`` seconds; the cancelling is not logged again as a failure).
"""

import asyncio
import logging

from ..apps import AppError

log = logging.getLogger("prefork.asgi")

_CANCELLED_UNWIND = 0.1  # seconds a lifespan shutdown given up has to run its cleanup
_STARTUP_UNWIND = 1.0  # seconds a startup given up (startup_timeout) has to run its cleanup


class LifespanFailed(AppError):
    """The app answered lifespan.startup.failed (or raised with mode = "on"); the message
    is one line (the app's own message, or traceback, is logged once before)."""


class Lifespan:
    def __init__(self, app, state, mode="auto"):
        self.app = app
        self.state = state
        self.mode = mode
        self.messages = None
        self.task = None
        self.startup_done = None
        self.shutdown_done = None
        self.failure = None  # the startup failure message
        self.unsupported = False
        self.given_up = False  # the shutdown timed out: the task is cancelled, not failing

    async def startup(self):
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self.messages = asyncio.Queue()
        self.startup_done = loop.create_future()
        self.shutdown_done = loop.create_future()
        self.messages.put_nowait({"type": "lifespan.startup"})
        self.task = loop.create_task(self.main())
        try:
            await self.startup_done
        except asyncio.CancelledError:
            # given up (startup_timeout): the app's task is cancelled too, so that its
            # finally blocks (a pool half opened) run before the worker exits
            self.given_up = True
            self.task.cancel()
            await asyncio.wait([self.task], timeout=_STARTUP_UNWIND)
            raise
        if self.failure is not None:
            raise LifespanFailed(f"Application startup failed: {last_line(self.failure)}")

    async def main(self):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as exc:
            exiting = isinstance(exc, (SystemExit, KeyboardInterrupt))  # the app's own sys.exit()
            if self.given_up:
                pass  # cancelled by the worker's startup_timeout, which says so
            elif not self.startup_done.done():
                if self.mode == "auto" and not exiting:
                    self.unsupported = True
                    log.info("ASGI 'lifespan' protocol appears unsupported.")
                else:
                    log.error("Exception in 'lifespan' protocol", exc_info=exc)
                    self.failure = f"lifespan startup raised {described(exc)}"
            elif self.failure is None and not self.shutdown_done.done():
                log.error("Exception in 'lifespan' protocol", exc_info=exc)
            if not isinstance(exc, Exception) and not exiting:
                raise  # cancelled
        finally:
            for future in (self.startup_done, self.shutdown_done):
                if not future.done():
                    future.set_result(None)

    async def receive(self):
        return await self.messages.get()

    async def send(self, message):
        kind = message["type"]
        if kind.startswith("lifespan.shutdown.") and not self.startup_done.done():
            # (taken for the startup's answer it would leave the boot waiting for one)
            raise RuntimeError(f"{kind!r} sent before the startup was answered")
        if kind == "lifespan.startup.complete":
            self.finish(self.startup_done)
        elif kind == "lifespan.startup.failed":
            self.failure = message.get("message") or "lifespan.startup.failed"
            log.error("Application startup failed: %s", self.failure)
            self.finish(self.startup_done)
        elif kind == "lifespan.shutdown.complete":
            self.finish(self.shutdown_done)
        elif kind == "lifespan.shutdown.failed":
            log.error("Application shutdown failed: %s", message.get("message") or "")
            self.finish(self.shutdown_done)
        else:
            raise RuntimeError(f"Unexpected ASGI lifespan message {kind!r}.")

    @staticmethod
    def finish(future):
        if future.done():
            raise RuntimeError("the lifespan answer was sent twice")
        future.set_result(None)

    def awaits_shutdown(self):
        """The app speaks the lifespan protocol and waits for its shutdown."""
        return self.task is not None and not self.unsupported and self.failure is None and not self.task.done()

    async def shutdown(self, timeout):
        if not self.awaits_shutdown():
            return
        self.messages.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(self.shutdown_done), timeout)
        except asyncio.TimeoutError:
            log.error("the app's lifespan shutdown did not finish within %.1f s; cancelling it", timeout)
            self.given_up = True
            self.task.cancel()  # its finally blocks run now, not when the loop is collected
            await asyncio.wait([self.task], timeout=_CANCELLED_UNWIND)


def described(exc):
    """``Name: message``, or the name alone for an exception without a message (a bare
    ``raise RuntimeError``, ``sys.exit()``)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def last_line(text):
    """The last non-blank line of ``text``: a traceback's exception line (what Starlette's
    ``lifespan.startup.failed`` message ends with), or the message itself."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else "lifespan.startup.failed"
