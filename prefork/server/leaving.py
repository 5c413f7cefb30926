"""Leaving HTTP: a CONNECT or a listened upgrade hands the socket over raw, an unlistened
upgrade is served as a plain request (a part of ``Connection``, which owns the state
these methods use).

Rules:
- The answers to the requests before a CONNECT or upgrade go out first, in order. While
  one is still to come, nothing more is read and the ``connect``/``upgrade`` event
  waits for it (Node emits at once and writes that answer into the tunnel whenever it
  comes); a connection that closes meanwhile, or whose answer closes it, never hands
  the socket over.
- The listener runs, and the socket's reading resumes, in a copy of the connection's
  context (connection.py), never in that of the callback handing the socket over (a
  response's flush, or a reader an earlier request's task re-added).
- The listener gets the request complete (its body, if any, is in the bytes after the
  head: ``end`` comes to a reader, then ``close``, as Node's), the socket (reading, uncorked, its idle timeout kept:
  ``server.timeout`` or one a listener set, now only the socket's own ``timeout``
  event, which destroys nothing, as in Node) and the bytes read after the head; with
  no listener left by then the socket is destroyed.
- An unlistened upgrade (or one ``server.should_upgrade`` refuses) is parsed on by a
  fresh parser (with the same limits and Host rule) without its Upgrade field, so its
  body and the requests after it are read as usual. The head it reads is the one read
  from the wire, fixed before any listener ran: a listener that rewrites ``req.url``,
  ``req.method`` or the raw fields changes nothing of the framing.
"""

import logging
from contextvars import copy_context

log = logging.getLogger("prefork.server")


def continuation_head(method, url, version, raw):
    """The bytes of an unlistened upgrade's head as it was read, without its Upgrade
    field: what the fresh parser reads before the rest of the connection."""
    lines = [f"{method} {url} HTTP/{version}\r\n"]
    lines += [f"{raw[i]}: {raw[i + 1]}\r\n" for i in range(0, len(raw), 2) if raw[i].lower() != "upgrade"]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class LeavingHTTP:
    """Connection's methods for leaving HTTP (mixed into ``Connection``)."""

    def _left_http(self, data, offset):
        """The parser stopped after an upgrade or CONNECT head; returns bytes to parse next."""
        if self._continuation is not None:
            # serve the unlistened upgrade as a plain request: parse on without the Upgrade
            # header, so its body and any pipelined requests are read normally
            req, head = self._continuation
            self._req = req
            self._continuing = True
            self.parser.release()  # done feeding: the rest goes to a fresh parser
            self.parser = self._new_parser()
            if self._final:
                self.parser.on_begin = self._refuse_message
            return head + data[offset:]
        req, self._req = self._req, None
        self._upgrading = (req, data[offset:])
        if self._responses:
            # earlier requests' answers are still to come: they go out first, then the
            # socket is handed over (response_done); nothing is read meanwhile
            self.pause_reading("upgrade")
        else:
            self._hand_over()
        return None

    def _hand_over(self):
        """The socket leaves HTTP for the connect/upgrade listener, with the bytes read
        after the head."""
        server = self.server
        socket = self.socket
        upgrading, self._upgrading = self._upgrading, None
        if upgrading is None or socket.destroyed:
            return
        req, head = upgrading
        if not server.listener_count("connect" if req.method == "CONNECT" else "upgrade"):
            socket.destroy()  # left HTTP with nobody to take the socket
            return
        server.detach(self)
        socket.protocol = None
        socket.loop.call_soon(self.parser.release)  # data_received still reads it on this turn
        if self._keep_alive_timer:  # (armed by a drain) the socket goes with the server's timeout
            socket.arm_timeout(server.timeout)
        self._held = []
        self._res = self._attached = None  # this connection is done with: no cycle through them
        self._handed_over = True
        socket.uncork()  # what was answered goes out before the new protocol's bytes
        context = self._context  # (rules; an empty Context is false: compared to None)
        context = copy_context() if context is None else context.copy()
        context.run(self._leave, req, socket, head)

    def _leave(self, req, socket, head):
        socket.resume()
        socket.look_for_reset()  # (the head's read may have been uvloop's reader's last: net/resets.py)
        try:
            req.push_end(None)  # its message is complete: 'end' for a reader, as Node's
            self.server.emit("connect" if req.method == "CONNECT" else "upgrade", req, socket, head)
        except Exception:
            log.exception("error in a %r listener; closing the connection", req.method == "CONNECT"
                          and "connect" or "upgrade")
            socket.destroy()
