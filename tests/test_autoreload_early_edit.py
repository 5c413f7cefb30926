"""Development reload (--reload): the watcher process needs a moment to start watching,
and an edit saved in that moment (the workers already ready) is still applied: once
watching, the watcher reports the files changed since the master started."""

import os
import re
import signal
import time

from daemon import HERE, ROOT, cmdline, children, wait_until


APP = '''def setup(server):
    def on_request(req, res):
        res.set_header("Content-Type", "text/plain")
        res.end("{version}")
    server.on("request", on_request)
'''

# Imported at the start of every interpreter on the path (the master's, the watcher's);
# only the watcher runs with -P. It holds the watcher back until the test has saved its
# edit, so the edit lands, deterministically, after "workers ready" and before "watching".
GATE = '''import os, sys, time
gate = os.environ.get("PREFORK_TEST_WATCHER_GATE")
if gate and sys.flags.safe_path:
    deadline = time.monotonic() + 30
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
'''


def body(response):
    head, _, rest = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return rest


def start(daemons, tmp_path, name, source=APP.format(version="v1"), up=r"workers ready", prepare=None):
    """A --reload daemon serving app/NAME.py, its watcher held at the gate; returns once
    ``up`` is logged. ``prepare(app_dir)`` runs before the daemon starts."""
    app_dir, site_dir = tmp_path / "app", tmp_path / "site"
    app_dir.mkdir()
    site_dir.mkdir()
    if prepare is not None:
        prepare(app_dir)
    (site_dir / "sitecustomize.py").write_text(GATE)
    app = app_dir / f"{name}.py"
    app.write_text(source)
    gate = tmp_path / "gate"
    daemon = daemons("--reload", app=f"{name}:setup", workers=1,
                     env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(app_dir), str(site_dir)]),
                          "PREFORK_TEST_WATCHER_GATE": str(gate)})
    daemon.wait_log(up, timeout=30)
    daemon.seen.add(wait_until(lambda: watcher_of(daemon), 10, what="the watcher process"))
    return daemon, app, gate


def watcher_of(daemon):
    # its title is set once it runs; held at the gate it is still "python -P -m prefork.master.autoreload"
    pids = [p for p in children(daemon.pid)
            if re.search(r"reload watcher|prefork\.master\.autoreload", cmdline(p) or "")]
    return pids[0] if pids else None


def test_an_edit_saved_before_the_watcher_watches_is_served_after_a_reload(daemons, tmp_path):
    daemon, app, gate = start(daemons, tmp_path, "early_edit_app")  # "workers ready"
    app.write_text(APP.format(version="v2"))  # the same size: only its timestamps tell
    assert "reload: watching" not in daemon.log()  # the watcher waits for the gate
    gate.touch()
    daemon.wait_log(r"reload: watching .*\n.*reload: changed: .*early_edit_app\.py", timeout=20)
    wait_until(lambda: body(daemon.request()) == b"v2", 20, what="the edit served")
    assert len(re.findall(r"reload: starting generation", daemon.log())) == 1
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def test_files_unchanged_since_the_start_cause_no_reload(daemons, tmp_path):
    daemon, app, gate = start(daemons, tmp_path, "unchanged_app")
    gate.touch()
    daemon.wait_log(r"reload: watching ", timeout=30)
    # the changes found at the start are sent with "ready", in one write, logged in one go
    assert "reload: changed" not in daemon.log()
    assert body(daemon.request()) == b"v1"
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "reload: starting generation" not in daemon.log()


def test_a_fix_saved_before_the_watcher_watches_starts_a_failed_first_boot_again(daemons, tmp_path):
    # a syntax error: the first generation cannot boot
    daemon, app, gate = start(daemons, tmp_path, "fixed_early_app", source="def setup(server:\n",
                              up=r"reload: trying again at the next change")
    app.write_text(APP.format(version="fixed"))
    assert "reload: watching" not in daemon.log()
    gate.touch()
    daemon.wait_log(r"reload: starting the workers again", timeout=20)
    daemon.wait_ready(timeout=20)
    assert body(daemon.request()) == b"fixed"
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def _future_and_linked(app_dir):
    """A module stamped two hours ahead (a copy from a machine whose clock is ahead), and
    a folder linked in from outside the app's."""
    future = app_dir / "from_the_future.py"
    future.write_text("X = 1\n")
    ahead = time.time() + 7200
    os.utime(future, (ahead, ahead))
    outside = app_dir.parent / "outside"
    outside.mkdir()
    (outside / "linked_helper.py").write_text("Y = 1\n")
    os.symlink(outside, app_dir / "lib")


def test_a_file_stamped_in_the_future_is_no_change_and_an_early_edit_in_a_linked_folder_is(daemons, tmp_path):
    daemon, app, gate = start(daemons, tmp_path, "linked_app", prepare=_future_and_linked)
    (tmp_path / "outside" / "linked_helper.py").write_text("Y = 2\n")
    deployed = app.parent / "deployed_ahead.py"  # copied in now, its mtime kept from a clock ahead
    deployed.write_text("Z = 1\n")
    ahead = time.time() + 7200
    os.utime(deployed, (ahead, ahead))
    assert "reload: watching" not in daemon.log()
    gate.touch()
    daemon.wait_log(r"reload: watching .*\n.*reload: changed: .*lib/linked_helper\.py", timeout=20)
    assert "deployed_ahead.py" in daemon.log() and "from_the_future" not in daemon.log(), daemon.log()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
