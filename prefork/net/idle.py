"""The idle timer of ``net.Socket`` (Node's ``socket.setTimeout``): a mixin.

Rules:
- Lazy: activity (a read, or a write reaching the kernel) only stamps a time
  (``last_activity``, set by the socket); the timer re-arms itself when it fires early.
- It fires once per idle period; after it fired, a read re-arms it and a write is seen
  by a look one period later (so a write pays no more than the stamp).
- A ``timeout`` listener that raises gets the socket destroyed (logged): nothing else
  would close it. The protocol hears of the timeout (``on_timeout``) before the
  socket's listeners, as the listener Node's http adds when the connection starts runs
  before any added later: a listener sees the socket its server has destroyed. A
  protocol whose ``on_timeout`` returns True has found it was no timeout (and armed the
  timer anew): the listeners hear nothing.
- A socket that is reading and has bytes from its peer waiting unread in the kernel is
  not idle, whatever its stamp says: its loop was busy (a blocking call ran the whole
  turn) and has not read them yet. The look is one ``FIONREAD`` when the timer runs
  out, never per read. A keep-alive connection a proxy reused just after its deadline
  would otherwise be closed with the proxy's request unread (a 502 at the proxy).
- ``set_timeout`` checks its seconds as Node's ``getTimerDuration`` (net/timers.py): a
  finite number >= 0, else TypeError/ValueError (ERR_INVALID_ARG_TYPE/ERR_OUT_OF_RANGE)
  before anything changes; past Node's limit (2**31 - 1 ms) the limit, with a warning.
  (A NaN deadline fired at once and put the loop's other timers out of order.) An int
  or float in range pays no call for the check; ``arm_timeout`` is ``set_timeout`` for
  seconds checked where they were set (the server's timeouts), and checks nothing.
- ``timeout`` is a plain attribute, as in Node: assigning it changes the value a pending
  timer checks when it fires, without arming one (assigning 0 turns a pending timer off
  at no cost); ``set_timeout`` arms.
- The state (``timeout``, ``last_activity``, ``_timer``, ``_idle_fired``) is ``Socket``'s:
  ``_timer`` is its class default (None) until a timer is armed, then an ``Armed`` (the
  loop's handle and its ``monotonic()`` deadline: one attribute, so a socket's names fit
  CPython's compact layout), the others set by its ``__init__``.
"""

from time import monotonic

from .timers import TIMER_LIMIT, timer_seconds


class Armed:
    """The idle timer in force: the loop's handle and its deadline (``monotonic()``)."""

    __slots__ = ("handle", "deadline")

    def __init__(self, handle, deadline):
        self.handle = handle
        self.deadline = deadline

    def cancel(self):
        self.handle.cancel()


class IdleTimer:
    """Mixed into ``Socket``."""

    def set_timeout(self, seconds, callback=None):
        """Node's ``socket.setTimeout``: ``timeout`` after ``seconds`` idle (0: off);
        ``callback`` becomes a one-time ``timeout`` listener, or with 0 stops being one.
        ``seconds`` is checked first (net/timers.py)."""
        kind = seconds.__class__
        if not ((kind is float or kind is int) and 0 <= seconds <= TIMER_LIMIT):
            seconds = timer_seconds(seconds)  # raises before anything changes, or is the limit
        if callback is not None:
            if seconds:
                self.once("timeout", callback)
            else:
                self.off("timeout", callback)
        return self.arm_timeout(seconds)

    def arm_timeout(self, seconds):
        """``set_timeout(seconds)`` for a caller whose seconds were checked where they
        were set (the server's keep-alive and request timeouts): a number >= 0, not
        checked again on the request path."""
        timeout = self.timeout = seconds + 0.0
        self._idle_fired = False
        if timeout <= 0 or self.destroyed:
            return self  # a pending timer finds the timeout off when it fires
        now = self.last_activity = monotonic()
        deadline = now + timeout
        timer = self._timer
        if timer is not None:
            if timer.deadline <= deadline:
                return self  # it fires early and re-arms itself
            timer.cancel()
        self._timer = Armed(self.loop.call_at(deadline, self._on_timer), deadline)
        return self

    def _rearm(self):
        self._idle_fired = False
        if self.timeout <= 0 or self.destroyed:
            return
        deadline = self.last_activity + self.timeout
        timer = self._timer
        if timer is not None:
            if timer.deadline <= deadline:
                return
            timer.cancel()
        self._timer = Armed(self.loop.call_at(deadline, self._on_timer), deadline)

    def _on_timer(self):
        self._timer = None
        if self.destroyed or self.timeout <= 0:
            return
        last = self.last_activity
        fired = self._idle_fired
        if fired:
            if last == fired:  # no activity since it fired: look again a period later
                self._look_again()
                return
            self._idle_fired = False  # a write since (writes only stamp): a new idle period
        deadline = last + self.timeout
        if monotonic() < deadline - 0.0005:
            self._timer = Armed(self.loop.call_at(deadline, self._on_timer), deadline)
            return
        if self.unread_input():  # bytes came that a busy loop has not read yet
            self.last_activity = monotonic()
            self._look_again()
            return
        self._idle_fired = last
        protocol = self.protocol
        if protocol is not None and protocol.on_timeout():  # first, as Node's http listener added at the start
            return  # (the protocol found it was no timeout: it set the timer anew)
        if not self.emit_or_destroy("timeout"):  # the timer is the connection's only bound
            return
        if self._timer is None and self._idle_fired and self.timeout > 0 and not self.destroyed:
            self._look_again()

    def _look_again(self):
        deadline = monotonic() + self.timeout
        self._timer = Armed(self.loop.call_at(deadline, self._on_timer), deadline)
