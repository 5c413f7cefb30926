"""An events app whose import waits until the test opens its gate: a file named
``open-PID`` (the importing process's PID) in the directory GATE_DIR (env) names, so a
test decides which worker finishes booting when (up to 30 s)."""

import os
import time

_gate = os.path.join(os.environ["GATE_DIR"], f"open-{os.getpid()}")
_deadline = time.monotonic() + 30
while not os.path.exists(_gate) and time.monotonic() < _deadline:
    time.sleep(0.01)


def setup(server):
    server.on("request", lambda req, res: res.end(b"gated"))


def setup_slow(server):
    """Every request is answered a minute later: a worker draining it runs until killed."""
    import asyncio
    server.on("request", lambda req, res: asyncio.get_running_loop().call_later(60, res.end, b"slow"))
