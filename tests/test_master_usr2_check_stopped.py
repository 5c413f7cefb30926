"""A stop that comes while a USR2's check still loads the app ends the whole check: the
check-config process and the child it loads the app in, even one whose import hangs.
Real daemon, real signals."""

import re
import signal
import textwrap

from daemon import alive, children, wait_until

APP = """
import os, time
if os.path.exists(os.environ["HANG_MARK"]):
    time.sleep(600)  # an import that hangs (a service it connects to does not answer)

def setup(server):
    server.on("request", lambda req, res: res.end("ok"))
"""


def test_term_during_a_usr2_check_ends_the_app_load_it_started(daemons, tmp_path):
    (tmp_path / "hanging.py").write_text(textwrap.dedent(APP))
    mark = tmp_path / "hang"
    d = daemons("--app-dir", str(tmp_path), "--timeout", "60", app="hanging:setup", workers=1,
                env={"HANG_MARK": str(mark)})
    d.wait_ready()
    mark.touch()
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: checking the new program \(pid \d+\)")
    check = int(re.search(r"USR2: checking the new program \(pid (\d+)\)", d.log()).group(1))
    loaders = wait_until(lambda: children(check), 20, what="the check's app-loading child")
    d.seen.update([check] + loaders)  # killed by PID at the end whatever happens
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert "re-executing the master" not in d.log()
    wait_until(lambda: not any(alive(pid) for pid in [check] + loaders), 10,
               what=lambda: f"the check and its app load gone: {[p for p in [check] + loaders if alive(p)]}")
