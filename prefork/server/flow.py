"""Flow control: when a connection stops and resumes reading (a part of ``Connection``,
which owns the state these methods use).

Rules:
- Reading stops for a reason and resumes when no reason is left: ``output`` (more
  than ``PIPELINE_DEPTH`` responses pending, or unsent bytes past the socket's
  high-water mark), ``body`` (a request nobody reads holds more than its high-water
  mark), ``held`` (requests of an earlier read wait unparsed).
- Between two requests of one read the parser asks ``_hold_requests``: when output is
  full, the rest of the read stays in ``parser.held`` and is fed on a later loop turn
  once output drains, before anything new is read. A pipelined flood from a peer that
  never reads thus makes at most about ``PIPELINE_DEPTH`` responses, not one per request
  of the read.
- A pause for output always has something to wake it: a drain of the socket (asked for
  when bytes are unsent) or the response queue shrinking (``response_done``).
- A response whose ``write()`` said False gets one ``drain`` when the socket drains, not
  one per such write, and none once ``end()`` was called (Node's ``socketOnDrain``).
- A body nobody reads, past its high-water mark, pauses the request (its response, once
  done, resumes and so discards it, as Node dumps it); if the response is already
  done, it is discarded at once. One a reader paused after taking a chunk stops the
  reading until that reader resumes it, its response done or not (Node's ``_consuming``).
- A body dropped once its response is done (Node's dump, whose ``end`` and ``close`` come
  on next ticks) is queued here (``dump_next_tick``): what is queued runs before a later
  request's ``end`` given in the same read (``run_dumps``), else on the next loop turn.
"""

PIPELINE_DEPTH = 64  # stop reading while this many responses are pending


class FlowControl:
    """Connection's flow-control methods (mixed into ``Connection``)."""

    def _pause_output(self):
        """Stop reading until what is pending goes out: a drain of the socket's buffer, or
        the response queue shrinking (response_done), resumes it."""
        socket = self.socket
        self.pause_reading("output")
        if socket.buffered_size:
            socket.want_drain()
        elif len(self._responses) < PIPELINE_DEPTH:
            socket.loop.call_soon(self.resume_reading, "output")  # nothing left to wait for

    def _hold_requests(self):
        """The parser's ``hold``, between two requests of one read: True (and reading
        paused) when the responses pending or the bytes unsent are already many."""
        socket = self.socket
        if socket.buffered_size > socket.high_water_mark or len(self._responses) >= PIPELINE_DEPTH:
            self._pause_output()
            return True
        return False

    dumps = None  # what Node's next ticks of a dumped request run (a list while any is due)

    def dump_next_tick(self, tell):
        """``tell()`` stands for Node's next tick of a request dumped in this read (module
        rules): before a later request's ``end`` of the same read, else next loop turn."""
        dumps = self.dumps
        if dumps is None:
            dumps = self.dumps = []
            self.socket.loop.call_soon(self.run_dumps)
        dumps.append(tell)

    def run_dumps(self, once=False):
        """Run what is queued (``once``: only what was queued before this call; what those
        queue in turn runs at the next call, or on the next loop turn)."""
        while self.dumps:
            dumps, self.dumps = self.dumps, []  # (a list: what they queue does not ask a turn)
            for tell in dumps:
                tell()
            if once:
                if self.dumps:
                    self.socket.loop.call_soon(self.run_dumps)
                    return
                break
        self.dumps = None

    def pause_reading(self, reason):
        self._pause_reasons.add(reason)
        self.socket.pause()

    def resume_reading(self, reason):
        reasons = self._pause_reasons
        if reason in reasons:
            reasons.discard(reason)
            if not reasons and self.socket.protocol is self:
                if self.parser.held:
                    # requests of an earlier read wait unparsed: they go first (on the next
                    # loop turn: this may run inside a listener, inside the parser)
                    self.pause_reading("held")
                    self.socket.loop.call_soon(self._feed_held)
                else:
                    self.socket.resume()

    def _feed_held(self):
        self._pause_reasons.discard("held")
        held, self.parser.held = self.parser.held, b""
        if held and not self.socket.destroyed and self.socket.protocol is self:
            self.data_received(held)
        if not self._pause_reasons and not self.socket.destroyed and self.socket.protocol is self:
            self.socket.resume()

    def body_backlog(self, req):
        """``req`` holds more unread body than its high-water mark: stop reading until it
        is read, or discard the rest when its response is already done."""
        res = self._res
        if req.readable_flowing is None:
            req.pause()  # read by nobody: its response, once done, resumes it (response_done)
        if res is not None and res.req is req and res.writable_ended and req.dumped_when_answered():
            req.resume()  # answered: nobody will read it (Node's dump)
        else:
            self.pause_reading("body")  # (a reader that paused it keeps it for its resume())

    def wants_drain(self, res):
        """``res``'s ``write()`` said False: it gets one ``drain`` when the socket drains
        (however many writes said False before, as Node's one ``kNeedDrain`` flag)."""
        waiters = self._drain_waiters
        if waiters is None:
            self._drain_waiters = [res]
        elif res not in waiters:
            waiters.append(res)
        self.socket.want_drain()

    def awaits_drain(self, res):
        """``res`` was told to wait (its ``write()`` said False) and its ``drain`` has not come."""
        return self._drain_waiters is not None and res in self._drain_waiters

    def on_drain(self):
        waiters, self._drain_waiters = self._drain_waiters, None
        if waiters:
            for res in waiters:
                if res.writable_ended:  # end() was called: no 'drain' for it (Node's msg.finished)
                    continue
                if not res.active and not res.destroyed:
                    # still waiting its turn: this drain was of the bytes before it, its own
                    # are all still held; its drain comes once they are out
                    self.wants_drain(res)
                    continue
                try:
                    res.emit("drain")
                except Exception as exc:
                    self.listener_failed(res, exc)
        if len(self._responses) < PIPELINE_DEPTH:
            self.resume_reading("output")
