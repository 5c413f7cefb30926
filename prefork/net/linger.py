"""``destroy_soon`` of ``net.Socket``: the close once the FIN is out, lingering for the peer.

Rules:
- ``destroy_soon`` closes once the FIN is out. If the peer is still sending (bytes wait
  unread in the kernel, or the caller knows more is coming: ``destroy_soon(linger=True)``),
  the socket lingers first: it reads and drops what the peer sends until the peer's FIN
  (``peer_done()`` withdraws a ``linger`` the caller asked for once it has read what it
  waited for; a linger already begun then ends on the next turn unless the peer's bytes
  wait unread). Closing a socket with unread bytes makes the kernel
  answer with a reset, and a reset throws away what the kernel still holds for the
  peer (the tail of a response a slow reader has not taken yet). With nothing unread
  (the common ``Connection: close`` answer) it closes at once, as nginx does: lingering
  there would cost every such connection a timer and another wake-up. Both waits (for the close_notify, for the peer's FIN)
  are bounded together by ``linger_timeout`` seconds, then the socket is destroyed. After
  a plain ``end()`` (the socket may stay half-open) only the send timeout bounds the
  close_notify's wait, as it bounds any write.
- ``destroy_soon(error=...)`` flushes as it does, and the close then reports that error
  as a destroy with it would (net/closing.py).
"""

from fcntl import ioctl
import socket as _socket
from termios import FIONREAD

_LINGER = 2  # _destroy_after_flush: destroy_soon(linger=True), the close lingers for the peer
_NONE = bytes(4)  # FIONREAD's count of unread bytes (an int) when there are none
_RECV_SIZE = 64 * 1024


class Lingering:
    """Mixed into ``Socket`` (through net/closing.py's ``Closing``)."""

    linger_timeout = 5.0  # seconds an orderly close may wait on the peer
    _close_timer = None  # the bound of the orderly close, once armed
    # (destroy_soon(linger=True), "linger whatever waits unread", is ``_destroy_after_flush``
    # set to _LINGER rather than a flag of its own: a name fewer on the socket, which
    # keeps the compact attribute layout of net/socket.py)

    def destroy_soon(self, linger=False, error=None):
        """FIN after the queue is flushed, then close (Node's ``destroySoon``); at once when
        a read or write already failed (nothing more can be flushed). ``linger``: the
        peer is known to be still sending (the caller's protocol says so, e.g. a request
        body not all received), so the close lingers for its FIN even when none of its
        bytes wait unread at that moment."""
        if linger:
            self._destroy_after_flush = _LINGER
        elif not self._destroy_after_flush:
            self._destroy_after_flush = True
        if error is not None:
            self._end_error = error
        if self._broken:
            if self._fail_pending is None:  # (else that failure destroys it, telling its error)
                self.destroy()
        elif self._fin_sent:
            if not self._finish_due:  # (a due 'finish' closes after it)
                self._close_after_fin()
        else:
            self._end(True)  # (a 'finish' due at once comes on the next turn: never inside the caller's end())
            if self.tls is not None and self.tls.closed and not self.destroyed:
                self._bound_close()  # its close_notify is waiting for the kernel

    def peer_done(self):
        """The protocol has read the whole of what the peer meant to send (its request
        ended after its answer was fixed): a close no longer lingers for the peer on
        that account, only when bytes of it wait unread at the close. A close that
        lingers already (its FIN went out earlier in the same read) ends on the next
        turn, unless such bytes wait."""
        if self._destroy_after_flush is _LINGER:
            self._destroy_after_flush = True
        if self._fin_sent and not self.readable and self._destroy_after_flush and not self.destroyed:
            self.loop.call_soon(self._linger_over)

    def _linger_over(self):
        if not self.destroyed and not self._peer_sending():
            self.destroy()

    def _close_after_fin(self):
        if self.destroyed:
            return
        if not self.readable or self._broken or not (self._destroy_after_flush is _LINGER or self._peer_sending()):
            self.destroy()
            return
        # linger: the peer's bytes are read and dropped until its FIN
        self.readable = False
        loop = self.loop
        if self._reading:
            loop.remove_reader(self._fd)
        self._reading = True
        loop.add_reader(self._fd, self._discard)
        self._bound_close()

    def unread_input(self):
        """The peer's bytes wait unread in the kernel while the socket reads: a loop that
        was busy has not read them yet. A deadline that passed meanwhile is looked at
        again once they are read (uvloop runs due timers before it polls for input)."""
        return self._reading and self._peer_sending()

    def _peer_sending(self):
        """Bytes from the peer wait unread in the kernel (not its FIN alone): one
        ``FIONREAD`` into a buffer of its own, which (unlike a peek at an empty socket)
        raises nothing."""
        count = bytearray(4)
        try:
            ioctl(self._sock.fileno(), FIONREAD, count)
        except OSError:  # (closed: fileno() is -1)
            return False
        return count != _NONE

    def _discard(self):
        view = self._read_view
        try:
            read = self._sock.recv_into(view) if view is not None else len(self._sock.recv(_RECV_SIZE))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            read = 0
        if not read:
            self.destroy()
        elif self.reads_stop_at_reset and self._sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR):
            self.destroy()  # (uvloop: that read was its reader's last, the peer reset)

    def _bound_close(self):
        if self._close_timer is None and self.linger_timeout > 0:
            self._close_timer = self.loop.call_later(self.linger_timeout, self.destroy)
