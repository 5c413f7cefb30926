"""How a WSGI call on the loop (``threads = 1``, ``wsgi/response.py``'s ``LoopCall``)
waits on its client: for 'drain' while a streamed body pushes back, for a large whole
body to reach the kernel, and for the client to go away meanwhile.

Rules:
- ``CallWaits`` is mixed into ``LoopCall``: the state it reads and sets is the call's
  (``res``, ``stall``, ``watching``, ``on_gone``, ``finished``), and ``finish()`` is the
  call's. A call that waits keeps nothing of what it sent: the one block it took from
  the app and has not sent yet is in its own slot (``LoopCall.taken``).
- A client that goes away while the call waits (or takes nothing for ``timeout``
  seconds: the ``StallWatch``) ends the call; the response's close is watched once,
  after the app returned.
"""

import logging

from .sending import StallWatch
from .spill import when_drained

log = logging.getLogger("prefork.wsgi")


class CallWaits:
    """The waits of a ``LoopCall`` (mixed into it)."""

    __slots__ = ()

    def waits_out(self):
        """A large whole body was handed to the socket: when what its client has not
        taken does not fit the worker's ``held`` budget, the call waits until it is out
        (True; ``finish`` then), as a streamed body's does; otherwise the bytes are held."""
        self.prepared or self.prepare()
        res = self.res
        socket = res.req.socket
        size = socket.buffered_size
        if socket.destroyed or size <= socket.high_water_mark or not res.active:
            return False
        held = self.adapter.held
        if held.fits(size):
            socket.want_drain()
            held.hold(socket, size)
            return False

        socket.on("close", self._out_or_closed)
        socket.after_flush(self._out_or_closed)
        self.stall = StallWatch(res, self.adapter.timeout)
        self.stall.arm()
        return True

    def _out_or_closed(self, *_):
        """The large body is in the kernel, or its socket closed first (a bound method,
        not a closure over itself: nothing of the call outlives it in a cycle)."""
        self.res.req.socket.off("close", self._out_or_closed)
        self.finish()

    def _wait(self, resume):
        """Resume on 'drain'; a client that goes away meanwhile (or takes nothing for
        ``timeout`` seconds) ends the call."""
        res = self.res
        if self.stall is None:
            self.stall = StallWatch(res, self.adapter.timeout)
        self._watch_gone()
        when_drained(res, resume)
        self.stall.arm()

    def _watch_gone(self):
        """The response's close ends the call (registered once, after the app returned:
        a send failing inside the app's own write() must not end the call under it)."""
        if not self.watching:
            self.watching = True
            self.res.once("close", self._gone)

    def when_gone(self, callback):
        """``callback()`` runs if the client goes away before the call is done."""
        if self.on_gone is None:
            self.on_gone = [callback]
        else:
            self.on_gone.append(callback)
        self._watch_gone()

    def _gone(self, *_):
        if self.finished:
            return
        log.debug("client gone during %s %s", self.req.method, self.req.url)
        for callback in self.on_gone or ():
            callback()
        self.finish()
