"""A USR2's check loads the app as the workers will: as ``user`` when the master runs
as root, so what the app's import does (a file it creates, a cache it fills) is done as
that user, never as root. Real daemon, real signals."""

import os
import pwd
import signal
import textwrap

import pytest

from daemon import scratch_dir, wait_until

APP = """
import os
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "marks", str(os.getpid())), "w") as fh:
    fh.write(str(os.getuid()))

def setup(server):
    server.on("request", lambda req, res: res.end("ok"))
"""


@pytest.mark.skipif(os.getuid() != 0, reason="workers under another user need root")
def test_the_usr2_check_imports_the_app_as_the_workers_user(daemons):
    nobody = pwd.getpwnam("nobody").pw_uid
    where = scratch_dir("prefork-usr2-user-")
    os.chmod(where, 0o755)  # the workers (nobody) read the app here
    with open(os.path.join(where, "marking.py"), "w") as fh:
        fh.write(textwrap.dedent(APP))
    marks = os.path.join(where, "marks")
    os.mkdir(marks)
    os.chmod(marks, 0o777)

    def importers():
        return {name: open(os.path.join(marks, name)).read() for name in os.listdir(marks)}
    d = daemons("--user", "nobody", "--app-dir", where, app="marking:setup", workers=1,
                env={"PYTHONDONTWRITEBYTECODE": "1"})
    d.wait_ready()
    assert set(importers().values()) == {str(nobody)}
    d.signal(signal.SIGUSR2)
    d.wait_log(r"re-executing the master", timeout=30)
    d.wait_log(r"workers ready", timeout=30, count=2)
    wait_until(lambda: len(importers()) >= 3, 10, what=lambda: f"the check's and the new worker's imports: "
                                                              f"{importers()}")
    assert set(importers().values()) == {str(nobody)}, importers()  # the check's import too
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
