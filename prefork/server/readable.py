"""Node's read-only Readable state of a server request (``readable``,
``readable_length``, ``readable_aborted``, ``readable_ended``, ``errored``, ``closed``,
``is_paused()``), derived from the flags ``IncomingMessage`` (request.py) keeps; only
``errored`` is stored, and only when there is one.

Rules (Node 20's ``IncomingMessage``):
- ``readable`` until ``end`` is emitted or the request is destroyed.
- ``readable_length``: what is buffered and not read yet (bytes; characters after
  ``set_encoding``).
- ``readable_aborted``: destroyed (or errored) before ``end``.
- ``errored``: the error given to ``destroy(err)``, else ECONNRESET "aborted" once the
  connection went before the body was read to its end (the one ``error`` gives,
  listened to or not); None otherwise.
- ``closed`` from the ``close`` event on (the request's ``destroyed``, but for an aborted
  request whose ``close`` is still to come: Node's is destroyed from its ``aborted`` on
  and closed only at its ``close``).
"""


class ReadableState:
    """A mixin of IncomingMessage: reads ``_ended``, ``destroyed``, ``_close_due``,
    ``_buffered``, ``_buffered_size`` and ``readable_flowing``."""

    __slots__ = ()

    errored = None  # set on the instance when there is one (see the rules)

    @property
    def readable(self):
        return not (self._ended or self.destroyed)

    @property
    def readable_length(self):
        return self._buffered_size if self._buffered else 0

    @property
    def readable_aborted(self):
        return not self._ended and (self.destroyed or self.errored is not None)

    @property
    def readable_ended(self):
        """``end`` was emitted (Node's ``readableEnded``)."""
        return self._ended

    @property
    def closed(self):
        return self.destroyed and not self._close_due

    def is_paused(self):
        return self.readable_flowing is False
