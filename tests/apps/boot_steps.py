"""An app whose set-up needs BOOT_SECONDS of running time in steps of 10 ms (an import
that works), then serves as basic: a freeze stops it, and the steps go on after the thaw
(a single sleep would end at its wall-clock deadline)."""

import os
import time

from apps import basic


def setup(server):
    for _ in range(int(float(os.environ.get("BOOT_SECONDS", "2")) * 100)):
        time.sleep(0.01)
    basic.setup(server)
