"""Queued pieces sent gathered: the part of ``Writing`` (writing.py) that keeps a large
body's bytes object whole on its way to the kernel.

Rules:
- Several queued pieces go to the kernel in one ``sendmsg`` (at most ``IOV_MAX`` pieces
  a call), each its own object, none copied or joined: a body shared by many responses
  (cached in memory) stays one object however many slow readers hold it. What the
  kernel did not take stays queued, a partly sent piece as a memoryview of it; a piece
  that is not ``bytes`` (nor a view of one) is copied then, as the join did: a writer
  may reuse its buffer once its call returned.
- TLS: a queue of more than ``SEAL_AT`` bytes (a large body) is encrypted in pieces of
  at most ``SEAL_PIECE`` plaintext bytes, the next only once the kernel has taken the
  records of the last (``_seal_pieces``): the records held wait for a slow reader are
  bounded, and so is OpenSSL's outgoing memory BIO, whose buffer keeps the size of the
  largest write it ever held until the connection closes (a 50 MB body encrypted whole
  kept 50 MB per idle keep-alive connection). The plaintext not yet encrypted stays
  queued as written (a large piece as a view of it, never joined); a smaller queue is
  encrypted whole by the flush, with no call more (writing.py).
"""

from time import monotonic

from .piping import Piping

_IOV_MAX = 1024  # (the most pieces one sendmsg takes: Linux's IOV_MAX)
SEAL_AT = 256 * 1024  # TLS: a queue larger than this is encrypted in pieces
SEAL_PIECE = 64 * 1024  # the plaintext encrypted at a time (4 records)


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
            _keep(out)
            if sent:
                out[0] = memoryview(out[0])[sent:]
            self._want_write()
            return False
        return True

    def _seal_pieces(self, out):
        """TLS, after the handshake: encrypt the queued plaintext ``out`` (after a
        placeholder, when records wait) ``SEAL_PIECE`` bytes at a time, each piece once
        the kernel has taken every record before it. True when all went, else False with
        the rest queued (a refusal: ``_refused``)."""
        tls = self.tls
        send = tls.send
        try:
            left = send(b"") if tls.backlog else 0  # (records waiting go first)
            while not left and out:
                chunk, size, taken = [], 0, 0
                while taken < len(out) and size < SEAL_PIECE:
                    piece = out[taken]
                    room = SEAL_PIECE - size
                    if len(piece) > room:  # (a view: the rest of it is never copied)
                        view = memoryview(piece)
                        chunk.append(view[:room])
                        out[taken] = view[room:]
                        size = SEAL_PIECE
                        break
                    chunk.append(piece)
                    size += len(piece)
                    taken += 1
                del out[:taken]
                self._sent += size
                left = send(chunk[0] if len(chunk) == 1 else b"".join(chunk))
        except OSError as exc:
            self._refused(exc)
            return False
        self.last_activity = monotonic()
        if not left:
            self.buffered_size = 0
            return True
        _keep(out)
        self.buffered_size = left + sum(map(len, out))
        if not out:
            out.append(b"")  # (the placeholder while records wait: writing.py)
        self._want_write()
        return False


def _keep(out):
    """The pieces left queued in ``out`` made safe to keep: one that is not ``bytes`` (nor a
    view of one) is a writer's buffer it may reuse once its call returned: copied."""
    for at, piece in enumerate(out):
        if piece.__class__ is not bytes and (piece.__class__ is not memoryview or piece.obj.__class__ is not bytes):
            out[at] = bytes(piece)
