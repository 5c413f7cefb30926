"""A stop signal that comes while prefork is still starting, as docs/SIGNALS.md and
docs/gunicorn.md ("In a container") state it: once prefork's own code runs, a TERM that
arrives before the master has its handlers (its configuration read, its log files being
opened) is held and handled once the master is up, a graceful stop with status 0; it
neither kills the process outright (status -15, nothing logged, its pidfile and UNIX
sockets never cleaned) nor, for a container's PID 1, is it ignored.

The moment is caught without a timer: the daemon is started with umask 077 and applies
its own ``umask`` setting (022) right after it has read its configuration, which
/proc/PID/status shows."""

import os
import signal
import subprocess
import sys
import time

from daemon import children, kill_all, python_env


def _umask(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        return None
    return None


def test_a_term_right_after_the_configuration_is_read_is_a_graceful_stop(tmp_path):
    log = open(tmp_path / "error.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", "--umask", "0o022",
         "--bind", f"unix:{tmp_path / 'early.sock'}", "--metrics-bind", "", "--access-log", ""],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=python_env(), cwd=tmp_path,
        preexec_fn=lambda: os.umask(0o077))
    seen = {proc.pid}
    try:
        deadline = time.monotonic() + 20
        while _umask(proc.pid) != 0o022:  # the configuration has been read
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "error.log").read_text()
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            seen.update(children(proc.pid))
            time.sleep(0.01)
        status = proc.wait(timeout=5)
        text = (tmp_path / "error.log").read_text()
        assert status == 0, f"exit status {status}:\n{text}"
        assert "graceful stop" in text, text
        assert not (tmp_path / "early.sock").exists()
    finally:
        kill_all(proc, seen)
        log.close()
