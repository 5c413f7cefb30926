"""``net.Socket.pipe()`` and ``unpipe()``: what a socket reads, copied to another writable
with backpressure.

Rules:
- The destination's ``write()`` returning False pauses the source; its ``drain`` resumes
  it. A source paused before the pipe flows (Node's ``pipe()`` resumes it), unless the
  destination already waits for a drain.
- ``end=True``: the source's ``end`` ends the destination. A pipe made after the source
  emitted ``end`` ends the destination on the next loop turn, as Node's ``pipe()`` does
  (``endEmitted``: its ``onend`` on the next tick); else the destination never ended.
- A pipe is undone (its listeners go from both) at the source's ``close``, at the
  destination's ``close`` or ``finish`` (an emitter's), or by ``unpipe([destination])``,
  as Node's: then the source writes nothing more into it (a destination ended or gone
  was written to: its write after end destroyed it with ``error``), and a source left
  with no pipe is paused (not at its own close). An emitter destination gets Node's
  ``pipe`` and ``unpipe`` events, with the source.
- Mixed into ``Socket`` (through ``Writing``); its state, ``_pipes`` (destination and
  undo of each pipe in place), is set on a socket only when it pipes.
"""

from ..emitter import EventEmitter


class Piping:
    """Mixed into ``Socket``."""

    _pipes = ()  # [(destination, undo), ...] of the pipes in place (a list once one is made)

    def pipe(self, destination, end=True):
        """Copy what this socket reads to ``destination`` with backpressure (paused while it is
        backed up; its FIN follows ours); a paused socket is resumed (unless ``destination``
        waits for a drain). Undone at this socket's close, the destination's close or
        finish, or ``unpipe()``: the listeners go from both."""
        emitter = isinstance(destination, EventEmitter)

        def on_data(data):
            if not destination.write(data):
                self.pause()

        def undo(pause=True):
            if entry not in self._pipes:
                return  # (undone already)
            self.off("data", on_data)
            self.off("close", closed)
            destination.off("drain", self.resume)
            if end:
                self.off("end", destination.end)
            if emitter:
                destination.off("close", gone)
                destination.off("finish", gone)
            self._pipes.remove(entry)
            if pause and not self._pipes:
                self.pause()  # (Node's unpipe: a source left with no pipe stops flowing)
            if emitter:
                destination.emit("unpipe", self)

        def closed(_had_error=False):  # this socket closed
            undo(pause=False)

        def gone(*_):  # the destination closed or finished: nothing more goes into it
            undo()
        entry = (destination, undo)
        if not self._pipes:
            self._pipes = []
        self._pipes.append(entry)
        if end and self.readable_ended:  # its 'end' is told already: the destination ends now (Node's)
            self.loop.call_soon(destination.end)
        self.on("data", on_data)
        destination.on("drain", self.resume)
        if end:
            self.on("end", destination.end)
        self.on("close", closed)
        if emitter:
            destination.on("close", gone)
            destination.on("finish", gone)
            destination.emit("pipe", self)
        if getattr(destination, "writable_need_drain", False):
            self.pause()  # (its drain resumes)
        elif self.is_paused():
            self.resume()  # a source paused before the pipe flows, as Node's pipe() resumes it
        return destination

    def unpipe(self, destination=None):
        """Node's ``readable.unpipe([destination])``: that pipe (every pipe, without one) undone;
        a socket left with no pipe is paused. This socket."""
        for each, undo in list(self._pipes):
            if destination is None or each is destination:
                undo()
                if destination is not None:
                    break
        return self
