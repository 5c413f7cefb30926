"""The client's logger, and emitting an event on a loop turn of its own (the request's
``error``, ``abort``, ``close``, and its ``drain`` and ``finish``, told from the
socket's flush; the response's ``error`` and ``close``; its ``aborted`` when the
connection cut the body short, client/closing.py).

Rules:
- A plain listener that raises there has no caller to raise to (Node's process would
  die of it): it is logged on the ``prefork.client`` logger with its traceback, as the
  client's other raising listeners are, not left to asyncio's handler of a callback's
  exception; what the exchange does next (its ``close``) still comes.
"""

import logging

log = logging.getLogger("prefork.client")


def emit_logged(emitter, event, *args):
    """``emitter.emit(event, *args)``, a raising listener logged (see Rules)."""
    try:
        emitter.emit(event, *args)
    except Exception:
        log.exception("error in a client %r listener", event)
