"""Node's read-only stream state of a client response (``readable``,
``readable_aborted``, ``errored``, ``closed``, ``destroyed``, ``readable_flowing``,
``readable_ended``, ``is_paused()``, ``readable_encoding``, ``readable_length``,
``readable_high_water_mark``, ``readable_object_mode``; and for the request, ``unread`` and
``collecting``), derived from the flags ClientResponse
(client/response.py) keeps; none of it is stored twice.

Rules:
- As Node's: ``readable`` until ``end``, an abort or ``destroy()``;
  ``readable_aborted`` once aborted or destroyed before ``end``; ``errored`` the error
  given to ``destroy(err)`` as it is called, else an abort's ECONNRESET "aborted" from
  ``aborted`` on (the one ``error`` gives, listened to or not); ``closed`` from the
  ``error`` before ``close``; ``destroyed`` from ``destroy()``, an abort, or once the ``end``
  listeners have run (``destroy_called``: ``destroy()`` was called).
- ``readable_encoding`` is None until ``set_encoding``, then its encoding by Node's
  name (``utf8``, ``latin1``, ``utf16le``, ...); ``readable_length`` the body bytes kept
  for a reader (Node counts a decoded string's characters); ``readable_high_water_mark``
  the bytes kept before the socket stops reading (64 KiB, where Node's is 16 KiB).
- ``async with await req as res:`` (or ``async with await prefork.get(url) as res:``)
  lets go of a body left unread at the block's end, as a context manager of httpx's or
  aiohttp's does: one that came whole is dropped and the socket goes back to the agent;
  one still coming is destroyed with its socket. A response taken and never read holds
  its socket otherwise, as in Node.
"""

KEPT_HIGH_WATER = 64 * 1024  # body bytes kept for a reader before the socket stops reading
# Node's names of the encodings set_encoding takes under another spelling
_NODE_NAMES = {"utf-8": "utf8", "binary": "latin1", "ucs2": "utf16le", "ucs-2": "utf16le", "utf-16le": "utf16le"}


class StreamState:
    """A mixin of ClientResponse: reads ``_ended``, ``_ending``, ``aborted``,
    ``destroy_called``, ``_errored``, ``_closed``, ``_closing``, ``_flowing``,
    ``_end_pending``, ``_kept``, ``_kept_size``, ``_decoder`` and ``_body``."""

    @property
    def unread(self):
        """Body chunks or the body's end are kept for a reader."""
        return self._end_pending or bool(self._kept)

    @property
    def collecting(self):
        """The body is being collected for ``read()``."""
        return self._body is not None

    @property
    def closed(self):
        """Node's ``closed``: from the ``error`` that precedes ``close``, else ``close``."""
        return self._closed or self._closing

    @property
    def destroyed(self):
        """Node's ``destroyed``: from ``destroy()``, an abort, or once ``end`` is over."""
        return self.destroy_called or self.aborted or (self._ended and not self._ending)

    @property
    def readable(self):
        """Node's ``readable``: until ``end``, an abort or ``destroy()``."""
        return not (self._ended or self.aborted or self.destroy_called)

    @property
    def readable_aborted(self):
        """Node's ``readableAborted``: destroyed or errored before ``end``."""
        return not self._ended and (self.aborted or self.destroy_called or self._errored is not None)

    @property
    def errored(self):
        """Node's ``errored``: ``destroy(err)``'s error, or an abort's ECONNRESET (Rules)."""
        return self._errored

    @property
    def readable_flowing(self):
        """Node's ``readableFlowing``: None until something reads or pauses the body, True
        while it flows, False once paused."""
        return self._flowing

    @property
    def readable_ended(self):
        """``end`` was emitted (Node's ``readableEnded``)."""
        return self._ended

    readable_object_mode = False
    readable_high_water_mark = KEPT_HIGH_WATER

    @property
    def readable_encoding(self):
        """Node's ``readableEncoding``: None, or ``set_encoding``'s by Node's name."""
        decoder = self._decoder
        return None if decoder is None else _NODE_NAMES.get(decoder.name, decoder.name)

    @property
    def readable_length(self):
        """Node's ``readableLength``: the body bytes kept for a reader."""
        return self._kept_size

    def is_paused(self):
        """Node's ``isPaused()``: ``pause()`` was called and no ``resume()`` since."""
        return self._flowing is False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        if not self._ended and not self.destroyed:
            if self.complete:
                self.resume()  # dropped (nobody listens): the exchange ends, the socket is the agent's again
            else:
                self.destroy()
