"""``umask`` is the daemon's file mode creation mask for every file it makes: the log
files it opens at start included, not only those it makes later (a pidfile, the log
files USR1 reopens after a rotation)."""

import os
import signal

from daemon import Daemon, wait_until


def mode(path):
    return os.stat(path).st_mode & 0o777


def test_log_files_made_at_start_follow_the_umask_as_reopened_ones_do(tmp_path):
    error_log, access_log, pidfile = tmp_path / "error.log", tmp_path / "access.log", tmp_path / "prefork.pid"
    previous = os.umask(0o022)  # the mask prefork is started with (a login shell's)
    try:
        daemon = Daemon("--umask", "0o077", "--error-log", str(error_log), "--access-log", str(access_log),
                        "--pidfile", str(pidfile), workers=1)
    finally:
        os.umask(previous)
    try:
        wait_until(lambda: error_log.exists() and "workers ready" in error_log.read_text(), 15,
                   what="the daemon ready")
        assert mode(pidfile) == 0o600
        assert (mode(error_log), mode(access_log)) == (0o600, 0o600)
        # after a rotation the master makes them anew, as it did at start
        os.rename(error_log, tmp_path / "error.log.1")
        os.rename(access_log, tmp_path / "access.log.1")
        daemon.signal(signal.SIGUSR1)
        wait_until(lambda: error_log.exists() and access_log.exists(), 10, what="the log files reopened")
        assert (mode(error_log), mode(access_log)) == (0o600, 0o600)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.cleanup()
