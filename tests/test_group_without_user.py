"""A group without a user, for a master started as root: its workers keep user root;
the start says so in a warning rather than silently."""

import os

import pytest

from daemon import Daemon


@pytest.mark.skipif(os.getuid() != 0, reason="only root may give workers another group")
def test_a_group_without_a_user_is_warned_of():
    d = Daemon("--group", "nogroup", workers=1)
    try:
        d.wait_ready()
        assert "the workers take group nogroup but keep user root (set user too, to drop root)" in d.log(), d.log()
        worker = d.workers()[0]
        status = open(f"/proc/{worker}/status").read()
        assert "Uid:\t0\t" in status  # (the warning's point: still root)
    finally:
        d.cleanup()
