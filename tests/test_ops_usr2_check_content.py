"""A USR2's check judges the configuration its master read, the content the new program
then starts with, not the file as it is when the check gets to read it: a file that was
bad when the USR2 came and was fixed a moment later must refuse the re-exec, or the new
program would start with the bad content and stop (status 2), taking the daemon down.

The check is held at its start until the file has been fixed: a ``sitecustomize`` on the
daemon's Python path waits, in the ``check-config`` process only, for a marker file."""

import os
import signal
import subprocess
import sys

from daemon import HERE, ROOT, python_env, wait_until

HOLD = '''
import os, sys, time
if "check-config" in sys.argv:
    deadline = time.monotonic() + 20
    while not os.path.exists({marker!r}) and time.monotonic() < deadline:
        time.sleep(0.01)
'''


def test_the_check_judges_the_content_its_master_read(daemons, tmp_path):
    hold = tmp_path / "hold"
    hold.mkdir()
    marker = tmp_path / "go"
    (hold / "sitecustomize.py").write_text(HOLD.format(marker=str(marker)))
    config = tmp_path / "prefork.toml"
    config.write_text("keep_alive_timeout = 5\n")
    d = daemons("--config", str(config), workers=1,
                env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(hold)])})
    d.wait_ready()
    config.write_text("keep_alive_timeout = 'soon'\n")  # bad when the USR2 comes
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: checking the new program")
    config.write_text("keep_alive_timeout = 6\n")  # fixed while the check starts
    marker.touch()
    wait_until(lambda: "USR2 refused" in d.log() or d.log().count("workers ready") >= 2 or d.proc.poll() is not None,
               20, what=lambda: f"the USR2's outcome:\n{d.log()}")
    assert d.proc.poll() is None, d.log()
    assert "USR2 refused" in d.log() and "keep_alive_timeout: expected a number, got 'soon'" in d.log(), d.log()
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0


def test_check_config_takes_the_handed_content_over_the_file(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 1\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path, stdin=subprocess.DEVNULL,
                          env=python_env(PREFORK_CHECKED_CONFIG="workers = 'many'\n"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"{config}:workers: expected an integer, got 'many'"]
