"""``net.Socket.pipe()``: what a socket reads, copied to another writable with backpressure.

Rules:
- The destination's ``write()`` returning False pauses the source; its ``drain`` resumes
  it. A source paused before the pipe flows (Node's ``pipe()`` resumes it), unless the
  destination already waits for a drain.
- ``end=True``: the source's ``end`` ends the destination. A pipe made after the source
  emitted ``end`` ends the destination on the next loop turn, as Node's ``pipe()`` does
  (``endEmitted``: its ``onend`` on the next tick); else the destination never ended.
- At the source's ``close`` its listeners go from both.
- Mixed into ``Socket`` (through ``Writing``); no state of its own.
"""


class Piping:
    """Mixed into ``Socket``."""

    def pipe(self, destination, end=True):
        """Copy what this socket reads to ``destination`` with backpressure (paused while it is
        backed up; its FIN follows ours); a paused socket is resumed (unless ``destination``
        waits for a drain). At this socket's close the listeners go from both."""
        def on_data(data):
            if not destination.write(data):
                self.pause()

        def unpipe(_had_error=False):  # this socket closed: the destination keeps none of its listeners
            self.off("data", on_data)
            destination.off("drain", self.resume)
            if end:
                self.off("end", destination.end)
        if end and self.readable_ended:  # its 'end' is told already: the destination ends now (Node's)
            self.loop.call_soon(destination.end)
        self.on("data", on_data)
        destination.on("drain", self.resume)
        if end:
            self.on("end", destination.end)
        self.once("close", unpipe)
        if getattr(destination, "writable_need_drain", False):
            self.pause()  # (its drain resumes)
        elif self.is_paused():
            self.resume()  # a source paused before the pipe flows, as Node's pipe() resumes it
        return destination
