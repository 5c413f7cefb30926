"""A HUP writes the pidfile again when it is gone (a cleaner of /run, an operator's rm)
or names a process that is not running, as gunicorn's reload rewrites its pidfile; the
daemon still removes it when it stops."""

import os
import signal

from daemon import wait_until


def pid_in(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def test_a_hup_writes_back_a_pidfile_that_was_removed_or_made_stale(daemons, tmp_path):
    path = tmp_path / "prefork.pid"
    d = daemons("--pidfile", str(path), workers=1)
    d.wait_ready()
    assert pid_in(path) == str(d.pid)
    os.unlink(path)
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 ready")
    wait_until(lambda: pid_in(path) == str(d.pid), 5, what=lambda: f"the pidfile back, holding {pid_in(path)}")
    assert "pidfile" in d.log() and "written again" in d.log(), d.log()
    path.write_text("999999999\n")  # no such process
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 3 ready")
    wait_until(lambda: pid_in(path) == str(d.pid), 5, what=lambda: f"the pidfile rewritten, holding {pid_in(path)}")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert not path.exists()


def test_a_hup_leaves_a_pidfile_naming_another_running_master_alone(daemons, tmp_path):
    mine, theirs = tmp_path / "mine.pid", tmp_path / "theirs.pid"
    d = daemons("--pidfile", str(mine), workers=1)
    other = daemons("--pidfile", str(theirs), workers=1)
    d.wait_ready()
    other.wait_ready()
    mine.write_text(f"{other.pid}\n")  # an operator's mix-up: it names the other daemon now
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 ready")
    d.wait_log(rf"the pidfile {mine} names another running prefork master \(pid {other.pid}\): left as it is")
    assert pid_in(mine) == str(other.pid)
