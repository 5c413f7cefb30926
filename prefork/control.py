"""Master <-> worker messages on the per-worker socketpair: one JSON object per line.

Worker to master: ``ready``, ``hb`` (the heartbeat, about once a second, carrying the
worker's stats), ``recycle`` (served its max_requests quota), ``boot_error`` (the app did
not load; ``error`` holds the traceback).
"""

import json
import socket


class Channel:
    def __init__(self, sock):
        self.sock = sock
        self._pending = b""

    @classmethod
    def pair(cls):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), cls(b)

    def fileno(self):
        return self.sock.fileno()

    def send(self, kind, **fields):
        fields["t"] = kind
        try:
            self.sock.sendall(json.dumps(fields, separators=(",", ":")).encode() + b"\n")
            return True
        except OSError:
            return False

    def receive(self):
        """Messages now readable; None when the peer has gone."""
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not data:
            return None
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        messages = []
        for line in lines:
            try:
                messages.append(json.loads(line))
            except ValueError:
                continue
        return messages

    def close(self):
        self.sock.close()
