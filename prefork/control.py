"""Master <-> worker messages on the per-worker socketpair: one JSON object per line.

Worker to master: ``ready``, ``hb`` (the heartbeat, about once a second, carrying the
worker's stats), ``recycle`` (served its max_requests quota), ``boot_error`` (the app did
not load; ``error`` holds the traceback). Master to worker: ``reopen`` (USR1), with the
log files the master opened attached as descriptors.

Rules:
- ``send`` never waits for a slow peer and never takes one for a dead one: what the
  socket cannot take now (EAGAIN: the master is busy or stopped) is queued, and written
  when the socket becomes writable, through the loop given to ``attach``.
- Messages go out whole and in the order sent, except heartbeats: a new one replaces a
  queued one not yet begun (only the latest stats matter). The queue thus holds at most
  one heartbeat besides the few one-off messages.
- Only a closed peer (EOF on ``receive``; EPIPE, ECONNRESET... on a write) means the
  other side is gone: ``send`` and ``flush`` then return False, ``receive`` None.
- Descriptors travel with a message (SCM_RIGHTS) only when it goes out whole at once,
  behind nothing queued: ``send_fds`` returns False otherwise, and the caller takes
  another way. The receiver gets them close-on-exec, in order, as the message's ``fds``
  (its field ``n`` says how many are its). Only the worker's end takes descriptors: the
  master's end (the first of ``pair()``) closes any it is sent at once, so a worker
  cannot fill the master's descriptor table; the worker's end keeps at most ``MAX_HELD``
  not yet claimed by a message.
"""

import json
import os
import socket
from collections import deque

MAX_FDS = 8  # descriptors one read takes
MAX_HELD = 32  # received descriptors kept for messages still to come; more are closed


class Channel:
    def __init__(self, sock):
        self.sock = sock
        self._pending = b""
        self._out = deque()  # [kind, encoded line]; the first may be partly written
        self._written = 0  # bytes of the first queued line already written
        self._loop = None
        self._watching = False  # a writer callback is registered
        self._fds = deque()  # received descriptors not yet handed to a message
        self.takes_fds = True
        self.gone = False

    @classmethod
    def pair(cls):
        """(the master's end, the worker's end)."""
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        master_end = cls(a)
        master_end.takes_fds = False
        return master_end, cls(b)

    def fileno(self):
        return self.sock.fileno()

    def attach(self, loop):
        """Flush what is queued from ``loop`` whenever the socket is writable again."""
        self._loop = loop
        self._watch()

    def send(self, kind, **fields):
        """Queue one message and write what the socket takes; False if the peer is gone."""
        if self.gone:
            return False
        fields["t"] = kind
        line = json.dumps(fields, separators=(",", ":")).encode() + b"\n"
        if kind == "hb":
            for i, (queued, _) in enumerate(self._out):
                if queued == "hb" and (i > 0 or self._written == 0):
                    del self._out[i]
                    break
        self._out.append((kind, line))
        return self.flush()

    def send_fds(self, kind, fds, **fields):
        """One message with ``fds`` attached, sent whole now; False when it cannot be
        (something is queued, the socket is full, the peer is gone): nothing was sent."""
        if self.gone or self._out:
            return False
        fields.update(t=kind, n=len(fds))
        line = json.dumps(fields, separators=(",", ":")).encode() + b"\n"
        try:
            sent = socket.send_fds(self.sock, [line], fds)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.gone = True
            return False
        if sent < len(line):  # the descriptors went with the first bytes; the rest follows
            self._out.append((kind, line))
            self._written = sent
            self._watch()
        return True

    def queued(self):
        """Bytes waiting for the socket."""
        return sum(len(line) for _, line in self._out) - self._written

    def flush(self):
        """Write what is queued, as far as the socket takes it; False if the peer is gone."""
        out = self._out
        while out and not self.gone:
            line = out[0][1]
            try:
                sent = self.sock.send(line[self._written:] if self._written else line)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.gone = True
                out.clear()
                self._written = 0
                break
            self._written += sent
            if self._written == len(line):
                out.popleft()
                self._written = 0
        self._watch()
        return not self.gone

    def finish(self, timeout):
        """Before the process exits: write what is queued, waiting up to ``timeout`` s."""
        if self.gone or not self._out:
            return not self.gone
        if self._watching:
            self._loop.remove_writer(self.sock.fileno())
            self._watching = False
        self._loop = None
        self.sock.settimeout(timeout)
        try:
            data = b"".join(line for _, line in self._out)[self._written:]
            self.sock.sendall(data)
            self._out.clear()
            self._written = 0
            return True
        except OSError:
            return False

    def _watch(self):
        loop = self._loop
        want = bool(self._out) and loop is not None and not self.gone
        if want and not self._watching:
            loop.add_writer(self.sock.fileno(), self.flush)
            self._watching = True
        elif self._watching and not want:
            if loop is not None:
                loop.remove_writer(self.sock.fileno())
            self._watching = False

    def receive(self):
        """Messages now readable; None when the peer has gone."""
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        for fd in fds:
            if self.takes_fds and len(self._fds) < MAX_HELD:
                self._fds.append(fd)
            else:
                os.close(fd)
        if not data:
            return None
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        messages = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("n"):
                message["fds"] = [self._fds.popleft() for _ in range(min(message["n"], len(self._fds)))]
            messages.append(message)
        return messages

    def close(self):
        if self._watching and self._loop is not None:
            self._loop.remove_writer(self.sock.fileno())
        self._watching = False
        while self._fds:
            os.close(self._fds.popleft())
        self.sock.close()
