"""A serving worker's signal handlers (set once its app is loaded and its loop serves).

Rules:
- TERM drains, INT and QUIT stop now, USR1 reopens the logs: each runs on the worker's
  loop, queued by the loop's wakeup descriptor (asyncio's or uvloop's) for its next turn.
  The master's HUP, TTIN and USR2 are caught and dropped (``process.dropped``); TTOU is
  ignored (worker.py says why).
- A TERM is also heard at once: a Python-level handler, run as soon as the interpreter
  has control (between two bytecodes: inside a threads = 1 WSGI app's call holding the
  loop, or in the loop's own wait), marks the server draining, so that a request read
  after the TERM came (by a read callback of the turn that queues the drain, before it)
  is answered with ``Connection: close`` and its connection closed, as after the drain.
  A response reads the mark once, as its head is fixed (server/outgoing.py's
  head and end, server/response.py's fast end): one whose
  head said keep-alive before the TERM keeps its connection for the client's next request.
  It sets that flag only (the drain itself, the listeners' close and the idle
  connections' timers, is the queued handler's), and calls the loop's own Python-level
  handler, which it replaces (uvloop notes the signal there). The HUP that retires old
  workers, a TTOU and max_requests recycling reach a worker as this TERM; a ``stop`` or
  the master's going are read on the channel, by the loop, which drains at once.
"""

import signal

from .process import dropped


def serving_signals(loop, server, drain, stop_now, reopen_logs):
    loop.add_signal_handler(signal.SIGTERM, drain)
    loop.add_signal_handler(signal.SIGINT, stop_now)
    loop.add_signal_handler(signal.SIGQUIT, stop_now)
    loop.add_signal_handler(signal.SIGUSR1, reopen_logs)
    for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGUSR2):
        loop.add_signal_handler(signum, dropped)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # (caught, a write to a tostop tty would retry for ever)
    loops_own = signal.getsignal(signal.SIGTERM)

    def term_heard(signum, frame):
        server.draining = True
        if callable(loops_own):
            loops_own(signum, frame)

    signal.signal(signal.SIGTERM, term_heard)
