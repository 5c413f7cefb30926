"""An app for a re-exec whose exec fails: loaded by a USR2's check-config (``check-config``
in its command line), it removes the file named by ``UNLINK_ON_CHECK`` (the symlink the
daemon was started by: the check passes, then the exec finds no interpreter); in a worker
its set-up waits until the file ``BOOT_GATE`` exists (up to 30 s), then serves as basic."""

import os
import sys
import time

from apps import basic

if "check-config" in sys.argv and os.environ.get("UNLINK_ON_CHECK"):
    os.unlink(os.environ["UNLINK_ON_CHECK"])


def setup(server):
    deadline = time.monotonic() + 30
    while not os.path.exists(os.environ["BOOT_GATE"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    basic.setup(server)
