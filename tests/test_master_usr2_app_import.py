"""USR2 after a deploy broke the app: the re-exec is refused and the running master and
its workers go on serving (gunicorn's and nginx's upgrade keep the old master when the
new one cannot start). Real daemon, real signals."""

import os
import signal
import textwrap

import pytest
from daemon import wait_until

APP = """
import os
if os.path.exists(os.environ["BROKEN_MARK"]):
    raise RuntimeError("the deploy broke the app")

def setup(server):
    server.on("request", lambda req, res: res.end(f"pid {os.getpid()}"))
"""


@pytest.mark.parametrize("breakage", ["raises", "syntax"])
def test_usr2_with_an_app_that_no_longer_imports_keeps_the_running_master(daemons, tmp_path, breakage):
    (tmp_path / "deployed.py").write_text(textwrap.dedent(APP))
    mark = tmp_path / "broken"
    d = daemons("--app-dir", str(tmp_path), app="deployed:setup", workers=2, env={"BROKEN_MARK": str(mark)})
    d.wait_ready()
    workers = d.wait_workers(2)
    if breakage == "raises":
        mark.touch()
    else:
        with open(tmp_path / "deployed.py", "a") as fh:
            fh.write("\ndef broken(:\n")
    d.signal(signal.SIGUSR2)
    refused = "USR2 refused: the new program's check-config exited with status 3"
    wait_until(lambda: refused in d.log() or d.proc.poll() is not None, 40, what=lambda: f"{refused}:\n{d.log()}")
    log = d.log()
    assert refused in log, log
    assert ("the deploy broke the app" if breakage == "raises" else "SyntaxError") in log
    assert "re-executing the master" not in log
    assert d.proc.poll() is None
    assert d.serving_workers() == workers
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    # the app fixed, a USR2 goes through
    if breakage == "raises":
        os.unlink(mark)
    else:
        (tmp_path / "deployed.py").write_text(textwrap.dedent(APP))
    d.signal(signal.SIGUSR2)
    d.wait_log(r"re-executing the master", timeout=30)
    d.wait_log(r"workers ready", timeout=30, count=2)
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
