"""Development reload (--reload) against the real daemon: an edited app file is served by
a new generation without a failed request, the master keeping its PID."""

import importlib.util
import os
import re
import signal
import subprocess
import sys

import pytest

from daemon import Load, alive, children, cmdline, python_env, wait_until, HERE, ROOT

needs_watchfiles = pytest.mark.skipif(importlib.util.find_spec("watchfiles") is None,
                                      reason="watchfiles is not installed (the test extra has it)")

APP = '''def setup(server):
    def on_request(req, res):
        res.set_header("Content-Type", "text/plain")
        res.end("{version}")
    server.on("request", on_request)
'''


def write_app(path, version):
    path.write_text(APP.format(version=version))


def watcher_of(daemon):
    pids = [p for p in children(daemon.pid) if "prefork: reload watcher" in (cmdline(p) or "")]
    return pids[0] if pids else None


def body(response):
    head, _, rest = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return rest


@needs_watchfiles
def test_an_edited_app_is_served_by_a_new_generation_without_a_failed_request(daemons, tmp_path):
    app = tmp_path / "reloadable_app.py"
    write_app(app, "v1")
    daemon = daemons("--reload", app="reloadable_app:setup", workers=2,
                     env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    daemon.wait_log(r"reload: watching " + str(tmp_path) + r" for \*\.py", timeout=30)
    daemon.wait_ready()
    watcher = wait_until(lambda: watcher_of(daemon), 10, what="the watcher process")
    daemon.seen.add(watcher)
    assert body(daemon.request()) == b"v1"
    first = set(daemon.workers())
    load = Load(daemon.port, threads=2, max_seconds=60)
    try:
        load.wait_count(20)
        write_app(app, "v2")  # the same size, likely the same second: no stale bytecode may serve it
        wait_until(lambda: b"v2" in load.pids or load.failures, 30, what="a v2 response under load")
        count = load.ok
        load.wait_count(count + 20)
    finally:
        load.stop()
    assert load.failures == []
    assert daemon.proc.poll() is None and alive(daemon.pid)  # the same master throughout
    daemon.wait_log(r"reload: generation 2 ready")
    # until the first generation is told to go, both serve (as in any reload)
    wait_until(lambda: not set(daemon.workers()) & first, 20, what="the first generation to drain")
    assert body(daemon.request()) == b"v2"
    assert not list(tmp_path.glob("__pycache__/*"))
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    wait_until(lambda: not alive(watcher), 10, what="the watcher to exit with the master")


@needs_watchfiles
def test_a_change_that_does_not_boot_leaves_the_running_generation_serving(daemons, tmp_path):
    app = tmp_path / "breakable_app.py"
    write_app(app, "v1")
    daemon = daemons("--reload", app="breakable_app:setup", workers=None,
                     env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    daemon.wait_log(r"reload: watching ", timeout=30)
    daemon.wait_ready()
    daemon.seen.add(wait_until(lambda: watcher_of(daemon), 10, what="the watcher process"))
    assert len(daemon.workers()) == 1  # reload without an explicit count: one worker
    app.write_text("def setup(server:\n")
    daemon.wait_log(r"reload aborted: a new worker failed to boot", timeout=30)
    assert body(daemon.request()) == b"v1"
    write_app(app, "v3")
    wait_until(lambda: body(daemon.request()) == b"v3", 30, what="v3 after the fix")


@needs_watchfiles
def test_a_first_boot_that_fails_waits_for_the_next_change(daemons, tmp_path):
    app = tmp_path / "broken_at_start.py"
    app.write_text("def setup(server:\n")  # a syntax error before anything was served
    daemon = daemons("--reload", app="broken_at_start:setup", workers=2,
                     env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    daemon.wait_log(r"reload: watching ", timeout=30)
    daemon.wait_log(r"failed to boot \(exit status 3\): *\n.*SyntaxError.*; reload: trying again at the next "
                    r"change", timeout=30)
    daemon.seen.add(wait_until(lambda: watcher_of(daemon), 10, what="the watcher process"))
    assert daemon.proc.poll() is None and "workers ready" not in daemon.log()  # up, not ready
    write_app(app, "fixed")
    daemon.wait_log(r"reload: starting the workers again", timeout=30)
    daemon.wait_ready(timeout=30)
    assert body(daemon.request()) == b"fixed"
    assert len(daemon.workers()) == 2
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


@needs_watchfiles
def test_the_watcher_exits_when_the_master_is_killed(daemons, tmp_path):
    app = tmp_path / "killed_app.py"
    write_app(app, "v1")
    daemon = daemons("--reload", app="killed_app:setup", workers=1,
                     env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    daemon.wait_log(r"reload: watching ", timeout=30)
    watcher = wait_until(lambda: watcher_of(daemon), 10, what="the watcher process")
    daemon.seen.add(watcher)
    daemon.workers()
    daemon.signal(signal.SIGKILL)
    daemon.wait_exit()
    wait_until(lambda: not alive(watcher), 10, what="the watcher to notice its master is gone")


def test_reload_without_watchfiles_is_a_configuration_error():
    # an interpreter where watchfiles cannot be found (None in sys.modules: find_spec says None)
    code = "import sys; sys.modules['watchfiles'] = None; from prefork.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "apps.basic:setup", "--reload"], capture_output=True,
                          text=True, env=python_env(), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "argv:--reload: watchfiles is not installed (pip install 'prefork[reload]')"


def test_reload_dirs_must_be_directories(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text(f'reload_dirs = ["{tmp_path / "missing"}"]\nreload_include = []\n')
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, env=python_env(), timeout=60)
    assert proc.returncode == 2
    assert f"{config}:reload_dirs: {tmp_path / 'missing'}: no such directory" in proc.stderr
    assert f"{config}:reload_include: expected at least one file name pattern" in proc.stderr


@needs_watchfiles
def test_reload_dirs_and_reload_include_choose_what_triggers_a_reload(daemons, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "page.html").write_text("page one")
    (templates / "notes.txt").write_text("notes")
    (tmp_path / "page_app.py").write_text(
        "import os\n"
        "PAGE = open(os.path.join(os.path.dirname(__file__), 'templates', 'page.html')).read()\n"
        "def setup(server):\n"
        "    server.on('request', lambda req, res: res.end(PAGE))\n")
    daemon = daemons("--reload", "--reload-dirs", str(templates), "--reload-include", "*.html", app="page_app:setup",
                     workers=1, env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    daemon.wait_log(r"reload: watching " + str(templates) + r" for \*\.html", timeout=30)
    daemon.wait_ready()
    daemon.seen.add(wait_until(lambda: watcher_of(daemon), 10, what="the watcher process"))
    assert body(daemon.request()) == b"page one"
    (templates / "notes.txt").write_text("not a pattern reload_include names")
    (tmp_path / "page_app.py").write_text("# outside reload_dirs\n" + (tmp_path / "page_app.py").read_text())
    (templates / "page.html").write_text("page two")
    wait_until(lambda: body(daemon.request()) == b"page two", 30, what="the edited page")
    changed = re.findall(r"reload: changed: (.*)", daemon.log())
    assert changed == [str(templates / "page.html")]  # reported in order: the other edits came first


@needs_watchfiles
def test_a_package_in_the_project_directory_reloads_on_its_sibling_packages(daemons, tmp_path):
    """A Django-shaped project: the app is ``mysite.app`` and its views live in ``polls``
    beside it; an edit to ``polls/views.py`` reloads, as uvicorn's and gunicorn's do."""
    project = tmp_path / "project"
    (project / "mysite").mkdir(parents=True)
    (project / "polls").mkdir()
    (project / "mysite" / "__init__.py").write_text("")
    (project / "polls" / "__init__.py").write_text("")
    (project / "mysite" / "app.py").write_text(
        "from polls import views\n\n"
        "def setup(server):\n"
        "    server.on('request', lambda req, res: res.end(views.TEXT))\n")
    (project / "polls" / "views.py").write_text("TEXT = 'v1'\n")
    daemon = daemons("--reload", "--app-dir", str(project), app="mysite.app:setup", workers=1)
    daemon.wait_log(r"reload: watching " + re.escape(str(project)) + r" for \*\.py", timeout=30)
    daemon.wait_ready()
    watcher = wait_until(lambda: watcher_of(daemon), 10, what="the watcher process")
    daemon.seen.add(watcher)
    assert body(daemon.request()) == b"v1"
    (project / "polls" / "views.py").write_text("TEXT = 'v2'\n")
    wait_until(lambda: body(daemon.request()) == b"v2", 30, what="the edited view served")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
