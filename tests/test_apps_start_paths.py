"""Where the app is looked for, by the paths prefork was started with: a start through a
symbolic link (a release's ``current`` link), a start in the standard library's own
``lib-dynload``, a start in a directory already removed; and the hint for a submodule
named after the colon with a factory call whose arguments hold dots."""

import os
import subprocess
import sys

import _json
import pytest

from test_app_loading import prefork_m, root_only_env, write

from prefork import apps

SERVICE = """
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"app": "service"}']
"""


def in_directory(path, cmd):
    """``cmd`` run from ``path`` as a shell enters it ($PWD is the path, through a link)."""
    return ["sh", "-c", 'cd "$0" && exec "$@"', str(path), *cmd]


def in_removed_directory(path, cmd):
    """``cmd`` run from ``path``, removed after the shell entered it."""
    return ["sh", "-c", 'cd "$0" && rmdir "$0" && exec "$@"', str(path), *cmd]


def test_a_json_py_taken_for_the_stdlib_through_a_current_link_is_refused_in_one_line(runs, tmp_path):
    release = write(tmp_path / "releases" / "r1", {"service.py": SERVICE, "json.py": "ENCODER = 'own'\n"})
    current = tmp_path / "current"
    current.symlink_to(release)
    env = root_only_env(PYTHONPATH=os.pathsep.join((".", root_only_env()["PYTHONPATH"])))
    run = runs(in_directory(current, prefork_m("service:app")), cwd=tmp_path, env=env)
    assert run.wait_exit() == 2
    log = run.log()
    assert f"{release / 'json.py'} was imported as the standard library's 'json': its directory is first on the " \
           f"Python path" in log, log
    assert "Traceback" not in log and "booting worker" not in log, log


def test_started_in_lib_dynload_with_an_absolute_chdir_the_stdlibs_extension_modules_are_not_a_projects(tmp_path):
    project = write(tmp_path / "proj", {"service.py": SERVICE})
    dynload = os.path.dirname(_json.__file__)
    result = subprocess.run(prefork_m("--check-config", "--chdir", str(project), "--metrics-bind", "", "service:app"),
                            cwd=dynload, env=root_only_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "was imported as the standard library's" not in result.stderr, result.stderr


def test_started_in_a_removed_directory_an_absolute_app_dir_is_served(runs, tmp_path):
    project = write(tmp_path / "proj", {"service.py": SERVICE})
    gone = tmp_path / "gone"
    gone.mkdir()
    run = runs(in_removed_directory(gone, prefork_m("--app-dir", str(project), "service:app")), cwd=tmp_path)
    run.wait_ready()
    assert run.get_json() == {"app": "service"}
    assert "Traceback" not in run.log(), run.log()


def test_started_in_a_removed_directory_with_no_absolute_directory_the_app_is_refused_in_one_line(runs, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    run = runs(in_removed_directory(gone, prefork_m("service:app")), cwd=tmp_path)
    assert run.wait_exit() == 2
    log = run.log()
    assert f"argv:--app: the working directory prefork was started in, {gone}, was removed: start it in an " \
           f"existing directory, or give --chdir (or --app-dir) as an absolute path\n" in log, log
    assert "Traceback" not in log and "booting worker" not in log, log


@pytest.fixture
def site_on_path(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(write(tmp_path / "proj", {
        "site2/__init__.py": "",
        "site2/web/__init__.py": "",
        "site2/web/views.py": "def create(name):\n    return None\n",
    }))
    yield
    for name in [name for name in sys.modules if name == "site2" or name.startswith("site2.")]:
        sys.modules.pop(name)


@pytest.mark.parametrize("app, written", [
    ('site2.web:views("a.b")', "site2.web.views:ATTRIBUTE"),
    ('site2.web:views.create("a.b", level=1.5)', 'site2.web.views:create("a.b", level=1.5)'),
])
def test_a_submodule_hint_cuts_the_dotted_name_not_the_calls_arguments(site_on_path, app, written):
    with pytest.raises(apps.AppError) as info:
        apps.load(app)
    assert str(info.value).endswith(f"(site2.web.views is a module its package does not import: "
                                    f"write APP as {written})"), info.value
