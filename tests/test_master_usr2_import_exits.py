"""An app whose import ends the process (``os._exit``, which no exception handler sees)
is not loadable: a worker would die before it is ready and the daemon stop with status 3.
``--check-config`` says so (status 3, with the exit status), and a USR2 after a deploy
made the app do so is refused, the running master and its workers going on. Real
daemon, real signals."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from daemon import python_env, wait_until

APP = """
import os
if os.path.exists(os.environ["EXIT_MARK"]):
    os._exit(int(os.environ["EXIT_STATUS"]))

def setup(server):
    server.on("request", lambda req, res: res.end(f"pid {os.getpid()}"))
"""


@pytest.mark.parametrize("status", [0, 7])
def test_check_config_reports_an_import_that_exits(tmp_path, status):
    (tmp_path / "exits.py").write_text(textwrap.dedent(APP))
    (tmp_path / "mark").touch()
    proc = subprocess.run([sys.executable, "-m", "prefork", "--check-config", "exits:setup", "--app-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=python_env(EXIT_MARK=str(tmp_path / "mark"), EXIT_STATUS=str(status)))
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert f"exits:setup: its import ended the process (exit status {status})" in proc.stderr


def test_usr2_with_an_app_whose_import_exits_0_keeps_the_running_master(daemons, tmp_path):
    (tmp_path / "deployed.py").write_text(textwrap.dedent(APP))
    mark = tmp_path / "mark"
    d = daemons("--app-dir", str(tmp_path), app="deployed:setup", workers=2,
                env={"EXIT_MARK": str(mark), "EXIT_STATUS": "0"})
    d.wait_ready()
    workers = d.wait_workers(2)
    mark.touch()
    d.signal(signal.SIGUSR2)
    refused = "USR2 refused: the new program's check-config exited with status 3"
    wait_until(lambda: refused in d.log() or d.proc.poll() is not None, 40, what=lambda: f"{refused}:\n{d.log()}")
    log = d.log()
    assert refused in log, log
    assert "its import ended the process (exit status 0)" in log
    assert "re-executing the master" not in log
    assert d.proc.poll() is None
    assert d.serving_workers() == workers
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    os.unlink(mark)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
