"""``systemctl kill`` signals every process of the unit unless told ``--kill-whom=main``
(systemctl(1): "If omitted, defaults to all"): a USR2 sent that way reaches each
worker and each process the app started, where its default action ends a worker still
booting and the app's own processes. Every ``systemctl kill`` the documentation shows
for a signal meant for the master names the main process."""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_documented_systemctl_kill_targets_the_master_alone():
    commands = []
    for path in [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        with open(path) as fh:
            text = fh.read().replace("\n", " ")
        commands += [(os.path.basename(path), found) for found in re.findall(r"systemctl kill [^`]*", text)]
    assert commands, "the README shows how to send USR2 under systemd"
    assert [(name, command) for name, command in commands if "--kill-whom=main" not in command] == []
