"""A USR2 whose new configuration raises ``timeout`` for an app that now takes longer to
import: the check loads the app within the new ``timeout``, and the master waits for it
that long (30 s plus the longer of the two), instead of refusing the re-exec after 30 s
plus the running configuration's ``timeout``. Real daemon, real signals; the import
sleeps 31.5 s once (it consumes its mark), so this test takes about 35 s."""

import signal
import textwrap

from daemon import wait_until

APP = """
import os, time
MARK = os.environ["SLOW_MARK"]
if os.path.exists(MARK):
    os.unlink(MARK)
    time.sleep(31.5)

def setup(server):
    server.on("request", lambda req, res: res.end(f"pid {os.getpid()}"))
"""


def test_usr2_check_is_bounded_by_the_new_configurations_timeout(daemons, tmp_path):
    (tmp_path / "slowed.py").write_text(textwrap.dedent(APP))
    config = tmp_path / "prefork.toml"
    config.write_text("timeout = 1\n")
    mark = tmp_path / "slow"
    d = daemons("--app-dir", str(tmp_path), "--config", str(config), app="slowed:setup", workers=1,
                env={"SLOW_MARK": str(mark)})
    d.wait_ready()
    config.write_text("timeout = 45\n")
    mark.touch()
    d.signal(signal.SIGUSR2)
    wait_until(lambda: "re-executing the master" in d.log() or "USR2 refused" in d.log() or d.proc.poll() is not None,
               60, what=d.log)
    log = d.log()
    assert "re-executing the master" in log, log
    assert "USR2 refused" not in log, log
    d.wait_log(r"workers ready", timeout=30, count=2)
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
