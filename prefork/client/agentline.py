"""The Agent's line and hand-overs (a mixin of ``Agent``, client/agent.py, whose pool
it reads and counts): the requests waiting for a socket of their host:port, the socket
a request is given a turn after ``request()``, the open socket handed to the next in
line, and the slot a closed socket frees.

Rules (Node 20's agent, as its ``sockets`` and ``requests`` read at each event):
- A request counts from inside ``request()`` (``add_request``): a socket taken or made
  for it, or its place in line; its ``socket`` comes on the next turn.
- The next in line leaves the line when the exchange before it frees its socket, before
  the agent's ``free`` is emitted; it takes the socket on the next turn.
- A socket destroyed while it counts counts until its ``close`` (or its request's closing
  events, whichever come first); there the next in line takes a new connection.
- A request destroyed while in line is dropped from it, never sent.
"""

from collections import deque


class AgentLine:
    """Mixed into ``Agent``."""

    def _give(self, req, socket):
        """``req`` gets the pooled socket taken for it a turn ago; one destroyed meanwhile
        leaves it to the pool again; one whose socket was reset meanwhile is served anew."""
        if req.destroyed:
            if not self._elsewhere(req, socket):
                self._release(req, socket, True)
        elif socket.destroyed and not self._elsewhere(req):
            key = self.key(req)
            self.sockets[key] = max(0, self.sockets.get(key, 1) - 1)
            self.tidy(key)
            self._add(req, later=False)
        else:
            req.assign_socket(socket, reused=True)

    def in_line(self, req):
        """``req`` waits in line for a socket."""
        return req in self.requests.get(self.key(req), ())

    def has_waiting(self, req):
        """Requests for ``req``'s host:port wait in line."""
        return any(not waiting.destroyed for waiting in self.requests.get(self.key(req), ()))

    def _hand_over(self, req, socket, reusable, following):
        """``following``, the request that left the line for it, takes ``req``'s open
        socket; when it was destroyed meanwhile, the next in line does (the socket pooled
        or closed when none waits); when the socket was, ``following`` is first in line again."""
        key = self.key(req)
        if not following.destroyed and not socket.destroyed:
            following.assign_socket(socket, reused=False, handed=True)
            return
        if not following.destroyed and req.loop is self._loop:
            self.requests.setdefault(key, deque()).appendleft(following)
        waiting = self.requests.get(key)
        while waiting and waiting[0].destroyed:
            waiting.popleft()
        if waiting and not socket.destroyed:
            req = waiting.popleft()
            self.tidy(key)  # (before its 'socket': no empty line left for its listeners to see, as Node's)
            req.assign_socket(socket, reused=False, handed=True)
            return
        if not self._elsewhere(req, socket):
            self._release(req, socket, reusable)

    def socket_closed(self, req, closed=False):
        """``req``'s socket was destroyed while it counted in the pool: it counts until
        its ``close`` (the agent's listener first, before the request's ``close`` and
        the socket's other listeners, as Node's), where the next request in line (if
        any) takes a new connection (its ``socket`` on the next turn). ``closed``: that
        ``close`` is past (the exchange's close waited for a late reader): the line is
        served two turns on."""
        if self._elsewhere(req):
            return
        socket = req.socket
        if closed or socket is None:
            key = self.key(req)
            self.sockets[key] = max(0, self.sockets.get(key, 1) - 1)
            req.loop.call_soon(self._slot_freed, req.loop, key)
            self.tidy(key)
            return
        self._closing[req] = True
        socket.prepend_once_listener("close", lambda had_error=False: self.socket_gone(req))

    def socket_gone(self, req):
        """The ``close`` of ``req``'s socket, destroyed while it counted, or the request's
        own closing events, whichever come first (Node's come inside that ``close``, after
        the agent's listener): it no longer counts, and the line is served now (its next
        request's ``socket`` on the next turn). Once; nothing when it was not counted."""
        if self._closing.pop(req, None) is None or self._elsewhere(req):
            return
        key = self.key(req)
        self.sockets[key] = max(0, self.sockets.get(key, 1) - 1)
        self.tidy(key)
        if self.requests.get(key) or (self.max_total_sockets is not None and self.requests):
            self._serve_line(key, later=True)

    def _slot_freed(self, loop, key):
        """A socket slot freed up: served on a later turn when requests wait (for
        ``key``, or, under ``max_total_sockets``, for any host:port)."""
        if self.requests.get(key) or (self.max_total_sockets is not None and self.requests):
            loop.call_soon(self._serve_line, key)

    def _serve_line(self, key, later=False):
        """A socket slot for ``key`` freed up: the first request in line (if it is still
        there, and the slot still free) takes a new connection; under
        ``max_total_sockets`` with none for ``key``, the first request in line for
        another host:port (Node's order). On a loop turn of its own, after the request
        that let the slot go has closed, as Node's agent does."""
        for name in [key] + [other for other in self.requests if other != key]:
            waiting = self.requests.get(name)
            while waiting and waiting[0].destroyed:
                waiting.popleft()
            self.tidy(name)
            if waiting and self._room(name):
                self._add(waiting.popleft(), later=later)
                self.tidy(name)
                return
            if self.max_total_sockets is None:
                return
