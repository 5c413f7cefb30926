"""``access_log = "-"`` is stderr, the one prefork was started with, also when
``error_log`` names a file (which takes over the workers' fd 2 for tracebacks): the
access lines do not end up in the error log file, before or after a USR2 re-exec; and
a reload abandoned after it moved the error log to a file gives the master its stderr
back."""

import http.client
import signal
import textwrap

from daemon import Daemon, wait_until
from test_ops_reload import BROKEN_APP


def test_access_lines_go_to_stderr_when_the_error_log_is_a_file(tmp_path):
    error_log = tmp_path / "error.log"
    d = Daemon("--error-log", str(error_log), "--access-log", "-", "--access-log-flush", "0",
               "--access-log-format", "ACCESS {m} {U} {s}", workers=2)
    try:
        # Daemon sends the process's stdout and stderr to d.log()
        wait_until(lambda: error_log.exists() and "workers ready" in error_log.read_text(), 15,
                   what="the workers ready, in the error log file")
        for n in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
            conn.request("GET", f"/r{n}")
            conn.getresponse().read()
            conn.close()
        wait_until(lambda: d.log().count("ACCESS ") == 4, 10, what=lambda: f"4 lines on stderr in {d.log()!r}")
        assert sorted(line for line in d.log().splitlines() if line.startswith("ACCESS")) == [
            f"ACCESS GET /r{n} 200" for n in range(4)]
        assert "ACCESS" not in error_log.read_text()
    finally:
        d.cleanup()


def test_access_lines_stay_on_stderr_across_a_usr2_reexec(daemons, tmp_path):
    """The re-executed master gets the copy of the original stderr, not fd 2 (which the
    error log file took): its workers' access lines still go to stderr."""
    error_log = tmp_path / "error.log"
    d = daemons("--error-log", str(error_log), "--access-log", "-", "--access-log-flush", "0",
                "--access-log-format", "ACCESS {m} {U} {s}", workers=1)
    wait_until(lambda: error_log.exists() and "workers ready" in error_log.read_text(), 15,
               what="the workers ready, in the error log file")
    assert d.request("/before").startswith(b"HTTP/1.1 200")
    wait_until(lambda: "ACCESS GET /before 200" in d.log(), 10, what="the first line on stderr")
    before = d.wait_workers(1)
    d.signal(signal.SIGUSR2)
    wait_until(lambda: error_log.read_text().count("workers ready") == 2, 15,
               what=lambda: f"the re-executed master's workers ready:\n{error_log.read_text()}")
    d.wait_workers(1, timeout=15, exclude=before)
    assert d.request("/after").startswith(b"HTTP/1.1 200")
    wait_until(lambda: "ACCESS GET /after 200" in d.log(), 10,
               what=lambda: f"the line after USR2 on stderr; error log:\n{error_log.read_text()}")
    assert "ACCESS" not in error_log.read_text()


def test_an_abandoned_reload_gives_the_master_its_stderr_back(daemons, tmp_path):
    """A reload that moves the error log from stderr to a file and is then abandoned (its
    new worker fails) leaves the master logging to stderr again, not to the file that
    took fd 2 meanwhile."""
    (tmp_path / "breakable.py").write_text(textwrap.dedent(BROKEN_APP))
    moved = tmp_path / "moved.log"
    config = tmp_path / "prefork.toml"
    config.write_text('error_log = "-"\n')
    d = daemons("--app-dir", str(tmp_path), "--config", str(config), app="breakable:setup", workers=1,
                env={"GATE": str(tmp_path / "gate")})
    d.wait_ready()
    config.write_text(f'error_log = "{moved}"\n')
    (tmp_path / "gate.broken").touch()
    d.signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" in d.log() + (moved.read_text() if moved.exists() else ""), 15,
               what="the reload refused")
    d.signal(signal.SIGTTIN)  # logged by the master at info
    wait_until(lambda: "TTIN: 2 workers" in d.log(), 10,
               what=lambda: f"TTIN on stderr; the file holds:\n{moved.read_text() if moved.exists() else ''}")
    assert "TTIN" not in (moved.read_text() if moved.exists() else "")
