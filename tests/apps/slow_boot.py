"""An app whose set-up takes BOOT_SECONDS (default 2) in each worker, then serves as basic."""

import os
import time

from apps import basic


def setup(server):
    time.sleep(float(os.environ.get("BOOT_SECONDS", "2")))
    basic.setup(server)
