"""The legacy ``write()``'s bytes on the loop (``threads = 1``) while the client pushes
back (the call is ``wsgi/response.py``'s ``LoopCall``).

Rules:
- ``write()`` cannot make the app wait without holding the loop, and so every
  connection of the worker. While the response pushes back (its socket's buffer over
  the high-water mark), what ``write()`` is given goes to a temporary file, handed back
  to the response ``SPILL_STEP`` bytes at a time as the socket drains. A slow reader
  costs the worker, in memory, the socket's buffer (the high-water mark, 64 KiB, plus
  the block that crossed it: one ``write()``'s, or one step) rather than every byte
  the app wrote; the rest is on disk, one file per call, closed (and so freed) when the
  response closes. The call is done once the file's bytes are handed over (the client
  taking nothing for ``timeout`` seconds is disconnected, ``StallWatch``), so the disk
  a worker uses this way is one call's output at a time.
- A client that leaves while ``write()``'s bytes go to the file is seen at the app's
  next ``write()``, which raises ``ClientDisconnected`` (as a send to it would): the
  loop, held by the app, cannot tell it meanwhile, and an app writing a long export
  would otherwise write all of it to disk for nobody. The socket is asked without
  reading from it or taking its pending error (a zero-timeout ``poll``: a reset peer
  is ``POLLERR``/``POLLHUP``), so the loop still sees it as it would have.
- ``push_out``: what is written goes to the kernel at once, also inside the read that
  started the call (the connection corks its socket while it handles a read).
- ``when_drained``: a call that waits for its response's ``drain`` gets it, or, when
  that drain came already with the socket still over its mark, the end of the socket's
  flush: the ``push_out`` after a write that said False can run the socket's flush
  waiters (a file sent, ending the response ahead of this pipelined one, which hands
  the socket this one's queued bytes) and the drain told after them; no other comes,
  and a call waiting for one would hold the worker for good.
"""

import os
import select
import tempfile

from .pipe import ClientDisconnected

SPILL_STEP = 256 * 1024  # bytes of a spill handed back to the response at a time


def push_out(socket):
    """What is written goes to the kernel now, also inside the read that started the call
    (the connection corks its socket while it handles a read): a streamed block or a
    ``write()`` reaches the client before the app makes the next one."""
    corked = socket.writable_corked
    if corked:
        for _ in range(corked):
            socket.uncork()
        for _ in range(corked):
            socket.cork()


def pushes_back(res, ok):
    """``res.write`` returned ``ok``: the response's bytes wait in user space past the
    socket's high-water mark, once what can go to the kernel went (``push_out``)."""
    if ok or res.destroyed:  # (a closed response's write says False, as Node's: nothing waits)
        return False
    socket = res.req.socket
    return not res.active or (socket.buffered_size >= socket.high_water_mark and not socket.destroyed)


def when_drained(res, callback):
    """``callback()`` once the bytes ``res`` waits on have gone out (module rules)."""
    if res.writable_need_drain:
        res.once("drain", callback)
        return
    socket = res.req.socket
    socket.after_flush(lambda: socket.destroyed or callback())  # (a close ends the call: its own listener)


class Spill:
    """The bytes ``write()`` gives while ``res`` pushes back (module rules): in a
    temporary file, handed back to ``res`` on each ``drain``; ``then()`` runs once all of
    them are handed over and the response no longer pushes back."""

    __slots__ = ("res", "stall", "file", "written", "taken", "waiting", "then", "closed", "peer")

    def __init__(self, res, stall):
        self.res = res
        self.stall = stall  # the call's StallWatch: armed while the spill waits for 'drain'
        self.file = None
        self.written = 0  # the file's end
        self.taken = 0  # what was handed back to the response
        self.waiting = False  # the response pushes back: write()'s bytes go to the file
        self.then = None
        self.closed = False
        self.peer = None  # a poll object on the socket, made at the first add
        res.once("close", self.close)

    def wait(self):
        """The response pushes back: ``write()``'s bytes go to the file until it drains."""
        self.waiting = True
        when_drained(self.res, self.feed)
        self.stall.arm()

    def add(self, data):
        """``data`` goes after what the file holds; raises ``ClientDisconnected`` when the
        client has left (module rules)."""
        if self.closed:
            return  # the client is gone: nothing will be sent
        peer = self.peer
        if peer is None:
            peer = self.peer = select.poll()
            peer.register(self.res.req.socket.fileno(), 0)  # (errors and hang-ups are always told)
        if peer.poll(0):
            raise ClientDisconnected("the client went away")
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="prefork-wsgi-write-")
        fd = self.file.fileno()
        view = memoryview(data)
        offset = self.written
        while view:
            wrote = os.pwrite(fd, view, offset)
            offset += wrote
            view = view[wrote:]
        self.written = offset

    def feed(self):
        """'drain': the file's bytes go to the response, a step at a time, until it
        pushes back again or they are all handed over (then ``then()``)."""
        if self.closed:
            return
        res = self.res
        while self.taken < self.written:
            piece = os.pread(self.file.fileno(), min(SPILL_STEP, self.written - self.taken), self.taken)
            if not piece:
                raise OSError(f"a spill file lost its bytes past {self.taken}")
            self.taken += len(piece)
            ok = res.write(piece)
            push_out(res.req.socket)
            if self.closed:
                return  # the send failed: the client is gone
            if pushes_back(res, ok):
                when_drained(res, self.feed)
                self.stall.arm()
                return
        if self.written:
            os.ftruncate(self.file.fileno(), 0)  # the disk goes back at once; the file serves the next wait
            self.written = self.taken = 0
        self.waiting = False
        then, self.then = self.then, None
        if then is not None:
            then()

    def close(self, *_):
        """The response is closed (done, or its client gone): the file goes, and so does
        a 'drain' listener that would never run (it holds this spill, which holds the
        response: without this, a cycle)."""
        self.closed = True
        self.waiting = False
        self.then = None
        self.stall.cancel()
        self.res.off("drain", self.feed)
        file, self.file = self.file, None
        if file is not None:
            file.close()
