"""An events app whose imports are counted in BOOT_COUNT_FILE: the second is slow
(BOOT_SLOW seconds), the third and later raise, as a deploy that broke the code on disk
under a running daemon; those take BOOT_FAIL_SLOW seconds to fail."""

import os
import time

from apps import basic

with open(os.environ["BOOT_COUNT_FILE"], "a+") as counts:
    counts.write("x")
    counts.seek(0)
    IMPORTS = len(counts.read())
if IMPORTS == 2:
    time.sleep(float(os.environ.get("BOOT_SLOW", "3")))
if IMPORTS >= 3:
    time.sleep(float(os.environ.get("BOOT_FAIL_SLOW", "0")))
    raise RuntimeError("a deploy broke the code")


def setup(server):
    basic.setup(server)
