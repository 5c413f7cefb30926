"""``python -m prefork`` puts the working directory first on ``sys.path``, so a project's
file named as a standard library module the master itself imports (``json.py``,
``logging.py``, ``signal.py``) was what prefork's own ``import`` loaded: the master died,
or every worker failed to boot, with a traceback in prefork's code. ``python -m
prefork`` now moves that entry last before prefork's modules are imported: the project
is served as by the console script, and a module of the start directory is still found
with ``--chdir``. ``PYTHONPATH=.`` still puts the directory first, by the user's choice:
the master refuses that at the start, in one line naming the file."""

import os
import subprocess

from daemon import ROOT
from test_app_loading import console_script, prefork_m, root_only_env, write

SERVICE = """
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"app": "service"}']
"""
STDLIB_NAMED = ("json", "logging", "signal", "select", "string", "token", "locale", "ssl")
PROJECT = {"service.py": SERVICE, **{f"{name}.py": "ENCODER = 'own'\n" for name in STDLIB_NAMED}}


def test_a_project_with_files_named_as_stdlib_modules_is_served_under_python_m(runs, tmp_path):
    project = write(tmp_path / "proj", PROJECT)
    run = runs(prefork_m("service:app"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "service"}
    assert "Traceback" not in run.log(), run.log()


def test_under_python_m_with_chdir_a_module_of_the_start_directory_is_still_found(runs, tmp_path):
    project = write(tmp_path / "proj", {**PROJECT, "sub/other.py": "X = 1\n"})
    run = runs(prefork_m("--chdir", "sub", "service:app"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "service"}
    assert "Traceback" not in run.log(), run.log()


def test_the_app_module_itself_named_json_is_refused_as_a_standard_library_name(runs, tmp_path):
    project = write(tmp_path / "proj", {"json.py": SERVICE})
    run = runs(prefork_m("json:app"), cwd=project)
    assert run.wait_exit() == 2
    log = run.log()
    assert f"{project / 'json.py'} cannot be imported as 'json': that name is the standard library's" in log, log
    assert "Traceback" not in log and "booting worker" not in log, log


def test_a_project_json_py_taken_for_the_stdlib_through_pythonpath_is_refused_in_one_line(runs, tmp_path):
    project = write(tmp_path / "proj", {"service.py": SERVICE, "json.py": PROJECT["json.py"]})
    env = root_only_env(PYTHONPATH=os.pathsep.join((str(project), ROOT)))
    run = runs([console_script(tmp_path), "service:app"], cwd=project, env=env)
    assert run.wait_exit() == 2
    log = run.log()
    assert f"{project / 'json.py'} was imported as the standard library's 'json': its directory is first on " \
           f"the Python path (PYTHONPATH puts it there): rename the file (or package), or take the directory " \
           f"off PYTHONPATH (prefork finds the app there itself)\n" in log, log
    assert "Traceback" not in log and "booting worker" not in log, log


def test_the_console_script_serves_a_project_with_a_json_py(runs, tmp_path):
    project = write(tmp_path / "proj", PROJECT)
    run = runs([console_script(tmp_path), "service:app"], cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "service"}
    assert "Traceback" not in run.log(), run.log()


def test_started_in_the_standard_librarys_own_directory_its_modules_are_not_taken_for_a_projects(tmp_path):
    stdlib = os.path.dirname(os.__file__)
    result = subprocess.run(prefork_m("--check-config", "wsgiref.simple_server:demo_app", "--metrics-bind", ""),
                            cwd=stdlib, env=root_only_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "was imported as the standard library's" not in result.stderr, result.stderr
