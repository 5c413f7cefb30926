"""Log lines said at most once per key per interval, per worker (a refused PROXY
header's reason, a refused TLS handshake's code): a flood of one kind of refusal costs
one line every ``every`` seconds, and that line tells how many were left out since the
one before it.

Rules:
- ``Throttle.suffix(key)`` is None while the key's line is held back (counted), else the
  text to end the line with: empty, or `` (N more since the last such line)``.
- Keys are few (reasons, codes): the table is never pruned.
"""

from time import monotonic


class Throttle:
    def __init__(self, every):
        self.every = every
        self.told = {}  # key -> [monotonic() of its last line, lines held back since]

    def suffix(self, key):
        now = monotonic()
        told = self.told.get(key)
        if told is not None and now - told[0] < self.every:
            told[1] += 1
            return None
        self.told[key] = [now, 0]
        return f" ({told[1]} more since the last such line)" if told is not None and told[1] else ""
