"""Log files under an operator's hands: a USR1 whose access log cannot be reopened.
Real daemons, real signals; every process is killed by PID at the end."""

import re
import signal

from daemon import wait_until


def test_an_access_log_that_cannot_be_reopened_is_said_once_not_once_per_worker(daemons, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    d = daemons("--access-log", str(logs / "access.log"), "--access-log-flush", "0", workers=3)
    d.wait_ready()
    assert b"200 OK" in d.request("/before")
    wait_until(lambda: b"/before" in (logs / "access.log").read_bytes(), 10, what="the first line")
    (logs / "access.log").unlink()
    logs.rmdir()  # logrotate's olddir gone, a mistaken cleanup
    d.signal(signal.SIGUSR1)
    d.wait_log(r"log files reopened in part: the files above could not be")  # not a plain success
    assert not re.search(r"log files reopened\n", d.log())
    assert b"200 OK" in d.request("/after")  # served, logged to the old file
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    lines = re.findall(r".*cannot reopen.*", d.log())
    assert len(lines) == 1 and lines[0].endswith(
        f"ERROR prefork: access log {logs}/access.log: cannot reopen (no such file or directory); the workers "
        f"keep the old file"), d.log()
