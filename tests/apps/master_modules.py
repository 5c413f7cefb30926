"""Runs the daemon like ``python -m prefork`` and, once the master has seen its workers
ready, writes the master's ``sys.modules`` to the file named by MODULES_OUT (one name a
line). Only for the test of what the master imports."""

import os
import sys

from prefork import cli
from prefork.master import master as master_mod

original = master_mod.Master.on_ready


def on_ready(self, worker):
    original(self, worker)
    if self.booted and not os.path.exists(os.environ["MODULES_OUT"]):
        with open(os.environ["MODULES_OUT"] + ".tmp", "w") as fh:
            fh.write("\n".join(sorted(sys.modules)))
        os.replace(os.environ["MODULES_OUT"] + ".tmp", os.environ["MODULES_OUT"])


master_mod.Master.on_ready = on_ready
cli.main(sys.argv[1:])
