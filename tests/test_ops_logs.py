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


def test_usr1_while_a_reload_boots_gives_the_new_generation_its_own_access_log(daemons, tmp_path):
    """A HUP moved ``access_log`` from A to B; a USR1 (logrotate's postrotate) lands while
    the new generation boots: its workers go on writing B, the old ones A."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    config = tmp_path / "prefork.toml"
    config.write_text(f'access_log = "{first}"\naccess_log_flush = 0.0\n')
    d = daemons("--config", str(config), app="apps.slow_boot:setup", workers=1, access_log=None,
                env={"BOOT_SECONDS": "1.5"})
    d.wait_ready(timeout=15)
    assert b"200 OK" in d.request("/before")
    config.write_text(f'access_log = "{second}"\naccess_log_flush = 0.0\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"booting worker", count=2)  # the new generation's worker is importing its app
    d.signal(signal.SIGUSR1)
    d.wait_log(r"log files reopened")
    d.wait_log(r"generation 2 ready", timeout=15)
    wait_until(lambda: len(d.serving_workers()) == 1 and len(d.workers()) == 1, 15, what="the old worker gone")
    assert b"200 OK" in d.request("/after")
    wait_until(lambda: second.exists() and b"/after" in second.read_bytes(), 10, what="/after in the new file")
    assert b"/after" not in first.read_bytes() and b"/before" in first.read_bytes()
