"""USR2 with an app whose import writes much (a chatty import, warnings): the new
program's check loads the app and says all of that on its standard error, which the
master drains as it comes, so the check ends as fast as the load and the re-exec goes
through. Real daemon, real signals."""

import signal
import textwrap

from daemon import wait_until

APP = """
import os, sys
for i in range(4000):
    print("loading part", i, "x" * 60)  # ~300 KiB, well over a pipe's buffer
    sys.stderr.write("note %d %s\\n" % (i, "y" * 60))

def setup(server):
    server.on("request", lambda req, res: res.end(f"pid {os.getpid()}"))
"""


def test_usr2_with_an_app_whose_import_writes_much_re_executes(daemons, tmp_path):
    (tmp_path / "chatty.py").write_text(textwrap.dedent(APP))
    d = daemons("--app-dir", str(tmp_path), "--timeout", "20", app="chatty:setup", workers=1)
    d.wait_ready()
    d.wait_workers(1)
    d.signal(signal.SIGUSR2)
    wait_until(lambda: "re-executing the master" in d.log() or "USR2 refused" in d.log()
               or d.proc.poll() is not None, 15, what=lambda: d.log()[-3000:])
    log = d.log()
    assert "USR2 refused" not in log, log[-3000:]
    assert "re-executing the master" in log
    d.wait_log(r"workers ready", timeout=30, count=2)
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
