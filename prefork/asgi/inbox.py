"""What a WebSocket session has received and its app has not yet taken.

Rules:
- ``put`` queues a message with its payload size (bytes, or a text's characters);
  ``full()`` says the session should stop reading (past ``_HIGH`` messages or
  ``_BYTES_HIGH`` payload), ``low()`` that it may read again (under ``_LOW`` and
  ``_BYTES_LOW``). The session does the pausing; the inbox only counts.
- ``put_disconnect`` queues the one ``websocket.disconnect`` (later calls do nothing).
  Once the app has taken it, ``get()`` answers it again at once instead of waiting
  for messages that can no longer come.
- Every waiting ``get()`` (an app may receive in several tasks at once) is woken by the
  next ``put``; the first to run takes the message, the others wait on.
"""

from collections import deque

from .waiters import park, wake_all

_HIGH = 32
_LOW = 8
_BYTES_HIGH = 1024 * 1024
_BYTES_LOW = 256 * 1024


class Inbox:
    def __init__(self, loop):
        self.loop = loop
        self.messages = deque()
        self.size = 0  # payload queued
        self.waiters = []  # the futures waiting get() calls sleep on (an app may receive in several tasks)
        self.disconnect = None  # the websocket.disconnect message, once queued
        self.disconnect_taken = False  # the app has received it

    def put(self, message, size=0):
        self.messages.append(message)
        self.size += size
        if self.waiters:
            wake_all(self.waiters)  # (their get() runs later: the list is not touched meanwhile)

    def put_disconnect(self, code, reason):
        if self.disconnect is None:
            # a plain int, as the spec has it (wsproto gives an IntEnum member for a known code)
            self.disconnect = {"type": "websocket.disconnect", "code": int(code), "reason": reason}
            self.put(self.disconnect)

    def full(self):
        return len(self.messages) > _HIGH or self.size > _BYTES_HIGH

    def low(self):
        return len(self.messages) < _LOW and self.size < _BYTES_LOW

    async def get(self):
        messages = self.messages
        while not messages:
            if self.disconnect_taken:
                return dict(self.disconnect)  # asked again after the disconnect
            await park(self.loop, self.waiters)
        message = messages.popleft()
        if message is self.disconnect:
            self.disconnect_taken = True
        elif self.size:
            self.size -= len(message.get("bytes") or message.get("text") or "")
        return message
