"""Node's read-only Readable state of a server request (``readable``,
``readable_length``, ``readable_aborted``, ``readable_ended``, ``readable_encoding``,
``readable_high_water_mark``, ``readable_object_mode``, ``errored``, ``closed``,
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
- ``readable_encoding``: None, or the encoding ``set_encoding`` gave, by Node's name for
  it (``UTF-8`` is ``utf8``, ``binary`` ``latin1``, ``ucs2`` ``utf16le``).
- ``readable_high_water_mark``: the buffered body past which the socket stops reading
  (64 KiB: Node's stream says 16 KiB); ``readable_object_mode`` is False.
- ``closed`` from the ``close`` event on (the request's ``destroyed``, but for an aborted
  request whose ``close`` is still to come: Node's is destroyed from its ``aborted`` on
  and closed only at its ``close``).
"""


_NODE_ENCODING = {"utf-8": "utf8", "binary": "latin1", "ucs2": "utf16le", "ucs-2": "utf16le",
                  "utf-16le": "utf16le"}


class ReadableState:
    """A mixin of IncomingMessage: reads ``_ended``, ``destroyed``, ``_close_due``,
    ``_buffered``, ``_buffered_size``, ``_decoder`` and ``readable_flowing``."""

    __slots__ = ()

    errored = None  # set on the instance when there is one (see the rules)
    readable_object_mode = False
    status_code = status_message = None  # (Node's server request has them, null)

    @property
    def readable_encoding(self):
        decoder = self._decoder
        return None if decoder is None else _NODE_ENCODING.get(decoder.name, decoder.name)

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
