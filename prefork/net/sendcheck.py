"""The send timeout of ``net.Socket``: a write the kernel refuses for too long fails.

Rules:
- A write the kernel refuses arms a check every quarter of ``send_timeout`` (nginx's
  ``send_timeout``; 0: none): once ``send_timeout`` seconds passed since the last
  progress a check saw (more handed to the kernel, or the kernel's own send queue
  shorter: the peer read), the write fails with ETIMEDOUT, as a reset write fails; so a
  peer that stops reading is cut within a quarter period after ``send_timeout``, not
  after up to twice that. Nothing is paid per write: the check runs only while the
  writer waits.
- It fails as a refused write does (``_fail_writes``, net/writing.py): the waiting
  writes' callbacks get ETIMEDOUT, then the socket fails with it.
"""

import fcntl
import termios
from time import monotonic

from ..http.errors import HTTPError

_SEND_CHECKS = 4  # progress checks per send_timeout while the writer waits
_SEND_LATE = 0.99  # (a timer may run a little early: the last check of a period still counts)


class SendCheck:
    """Mixed into ``Socket`` (through net/writing.py's ``Writing``)."""

    send_timeout = 60.0  # seconds a write may wait on a peer that reads nothing (0: for ever)
    _send_check = None  # the pending progress check, while the writer waits
    _send_mark = None  # (bytes handed to the kernel, the kernel's unsent bytes, when they last moved)

    def _want_write(self):
        if not self._writer and not self.destroyed:
            self._writer = True
            self.loop.add_writer(self._fd, self._flush)
            if self._send_check is None and self.send_timeout > 0:
                self._send_mark = self._progress() + (monotonic(),)
                self._send_check = self.loop.call_later(self.send_timeout / _SEND_CHECKS, self._check_send)

    def _progress(self):
        tls = self.tls
        sent = self._sent if tls is None else tls.wire_sent
        try:
            unsent = fcntl.ioctl(self._fd, termios.TIOCOUTQ, b"\0\0\0\0")
        except OSError:
            unsent = None
        return sent, unsent

    def _check_send(self):
        self._send_check = None
        if self.destroyed or not self._writer:
            return
        (sent, unsent), mark, now = self._progress(), self._send_mark, monotonic()
        moved = sent != mark[0] or (mark[1] is not None and unsent != mark[1])
        self._send_mark = (sent, unsent, now if moved else mark[2])
        if moved or now - mark[2] < self.send_timeout * _SEND_LATE:
            self._send_check = self.loop.call_later(self.send_timeout / _SEND_CHECKS, self._check_send)
            return
        self._fail_writes(HTTPError("ETIMEDOUT", f"write ETIMEDOUT (no progress in {self.send_timeout:g} s)"))
