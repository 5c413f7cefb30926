"""A fast stop (INT, QUIT) reaches what the app started in each worker: the master sends
INT to each worker's process group, so a helper process the app runs stops with the
daemon, as a Ctrl-C in a terminal stops it under gunicorn (whose workers share the
terminal's foreground group), rather than being left running once prefork is gone."""

import os
import signal

import pytest

from daemon import Daemon, scratch_dir, wait_until


def running(pid):
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("how", ["group INT (Ctrl-C)", "INT", "QUIT"])
def test_a_fast_stop_stops_the_apps_helpers(how):
    helpers_dir = scratch_dir("prefork-helpers-")
    d = Daemon(app="apps.helper_processes:app", workers=2, new_session=True, env={"HELPERS_DIR": helpers_dir})
    helpers = []
    try:
        d.wait_ready()
        wait_until(lambda: len(os.listdir(helpers_dir)) == 2, 10, what="both helpers")
        helpers = [int(open(os.path.join(helpers_dir, name)).read()) for name in os.listdir(helpers_dir)]
        assert all(running(pid) for pid in helpers)
        if how.startswith("group"):
            os.killpg(d.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the foreground group
        else:
            d.signal(getattr(signal, "SIG" + how))
        assert d.wait_exit() == 0
        wait_until(lambda: not any(running(pid) for pid in helpers), 5,
                   what=lambda: f"the helpers {helpers} to stop:\n{d.log()}")
        assert "Traceback" not in d.log(), d.log()
    finally:
        for pid in helpers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        d.cleanup()


def test_a_worker_the_app_moved_to_another_group_still_gets_the_fast_stop():
    helpers_dir = scratch_dir("prefork-helpers-")
    d = Daemon(app="apps.helper_processes:moved", workers=1, env={"HELPERS_DIR": helpers_dir, "MOVE_WORKER": "1"})
    helpers = []
    try:
        d.wait_ready()
        wait_until(lambda: len(os.listdir(helpers_dir)) == 2, 10, what="the helpers")
        helpers = [int(open(os.path.join(helpers_dir, name)).read()) for name in os.listdir(helpers_dir)]
        worker = d.workers()[0]
        assert os.getpgid(worker) != worker  # (the app moved it)
        d.signal(signal.SIGINT)
        assert d.wait_exit() == 0
        log = d.log()
        assert "did not stop in time" not in log and "stopped: exit status 0" in log, log
    finally:
        for pid in helpers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        d.cleanup()
