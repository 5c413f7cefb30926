"""Queued pieces sent gathered: the part of ``Writing`` (writing.py) that keeps a large
body's bytes object whole on its way to the kernel.

Rules:
- Several queued pieces go to the kernel in one ``sendmsg`` (at most ``IOV_MAX`` pieces
  a call), each its own object, none copied or joined: a body shared by many responses
  (cached in memory) stays one object however many slow readers hold it. What the
  kernel did not take stays queued, a partly sent piece as a memoryview of it; a piece
  that is not ``bytes`` (nor a view of one) is copied then, as the join did: a writer
  may reuse its buffer once its call returned.
"""

from time import monotonic

from .piping import Piping

_IOV_MAX = 1024  # (the most pieces one sendmsg takes: Linux's IOV_MAX)


class Gathering(Piping):
    """Mixed into ``Socket`` (through ``Writing``, whose state it uses)."""

    def _send_pieces(self, out):
        """One gathered send of the queued pieces ``out``; True when all went, else False
        with what the kernel did not take left in ``out`` (a refusal: ``_refused``)."""
        try:
            sent = self._sock.sendmsg(out[:_IOV_MAX])
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._refused(exc)
            return False
        self.last_activity = monotonic()
        self._sent += sent
        self.buffered_size -= sent
        taken = 0
        while taken < len(out) and sent >= len(out[taken]):
            sent -= len(out[taken])
            taken += 1
        del out[:taken]
        if out:
            for at, piece in enumerate(out):  # (a view of a writer's buffer it may reuse: copied)
                if piece.__class__ is not bytes and (piece.__class__ is not memoryview
                                                     or piece.obj.__class__ is not bytes):
                    out[at] = bytes(piece)
            if sent:
                out[0] = memoryview(out[0])[sent:]
            self._want_write()
            return False
        return True
