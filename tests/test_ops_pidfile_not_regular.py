"""The master never opens a pidfile path that is not a regular file: a FIFO put where
the pidfile was would block it in open() for ever (no signal handled, no worker
supervised). On HUP it is named in a warning and left alone; at exit it stays and the
master exits. A warning keeps the path as it is written."""

import os
import signal
import stat
import subprocess

import pytest

from daemon import wait_until


def is_fifo(path):
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def test_a_hup_leaves_a_fifo_at_the_pidfile_path_alone_and_keeps_supervising(daemons, tmp_path):
    path = tmp_path / "prefork.pid"
    d = daemons("--pidfile", str(path), workers=1)
    d.wait_ready()
    os.unlink(path)
    os.mkfifo(path)
    d.signal(signal.SIGHUP)
    d.wait_log(rf"HUP: the pidfile {path} is not a regular file \(not replaced by a pidfile\): left as it is",
               timeout=5)
    d.wait_log(r"reload: generation 2 ready", timeout=10)
    assert d.request("/").startswith(b"HTTP/1.1 200"), d.log()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=10) == 0, d.log()
    assert is_fifo(path)


def test_a_stopping_master_exits_leaving_a_fifo_at_the_pidfile_path(daemons, tmp_path):
    path = tmp_path / "prefork.pid"
    d = daemons("--pidfile", str(path), workers=1)
    d.wait_ready()
    os.unlink(path)
    os.mkfifo(path)
    d.signal(signal.SIGTERM)
    try:
        code = d.wait_exit(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the master did not exit (blocked opening the FIFO?):\n" + d.log())
    assert code == 0, d.log()
    assert is_fifo(path)


def test_a_hup_warning_names_the_pidfile_path_as_it_is_written(daemons, tmp_path):
    directory = tmp_path / "Run-MixedCase"
    directory.mkdir()
    path = directory / "Prefork.PID"
    d = daemons("--pidfile", str(path), workers=1)
    d.wait_ready()
    path.write_text("Not A PID\n")  # something else took the path: not a pidfile, not replaced
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 ready", timeout=10)
    wait_until(lambda: "HUP: the pidfile" in d.log(), 5, what="the HUP pidfile warning")
    line = next(line for line in d.log().splitlines() if "HUP: the pidfile" in line)
    assert str(path) in line and str(path).lower() not in line, line
    assert "holds something other than a PID" in line, line
    assert path.read_text() == "Not A PID\n"
