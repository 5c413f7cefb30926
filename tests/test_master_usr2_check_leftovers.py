"""A USR2's check loads the app; a process the app's import starts (a helper, a
metrics agent, a multiprocessing manager) stays in the check's process group, and
goes with the check once it has exited, whatever its verdict: a re-exec leaves no
process of the check behind. Real daemon, real signals."""

import os
import re
import signal
import textwrap

from daemon import alive, wait_until

APP = """
import os, subprocess, sys
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(os.path.join(os.environ["HELPER_MARKS"], str(helper.pid)), "w") as fh:
    fh.write(str(os.getpgid(0)))

def setup(server):
    server.on("request", lambda req, res: res.end("ok"))
"""


def test_a_process_the_app_starts_in_a_usr2_check_does_not_outlive_the_check(daemons, tmp_path):
    (tmp_path / "helped.py").write_text(textwrap.dedent(APP))
    marks = tmp_path / "marks"
    marks.mkdir()
    d = daemons("--app-dir", str(tmp_path), app="helped:setup", workers=1, env={"HELPER_MARKS": str(marks)})
    helpers = {}

    def read_marks():
        for name in os.listdir(marks):
            if int(name) not in helpers:
                text = (marks / name).read_text()
                if text:
                    helpers[int(name)] = int(text)
                    d.seen.add(int(name))  # killed by PID at the end whatever happens
        return helpers
    try:
        d.wait_ready()
        d.signal(signal.SIGUSR2)
        d.wait_log(r"re-executing the master", timeout=30)
        check = int(re.search(r"USR2: checking the new program \(pid (\d+)\)", d.log()).group(1))
        in_check = wait_until(lambda: [pid for pid, group in read_marks().items() if group == check], 10,
                              what="the helper the check's app load started")
        wait_until(lambda: not any(alive(pid) for pid in in_check), 10,
                   what=lambda: f"the check's helper gone: {[pid for pid in in_check if alive(pid)]}")
        d.wait_log(r"workers ready", timeout=30, count=2)
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
    finally:
        for pid in read_marks():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
