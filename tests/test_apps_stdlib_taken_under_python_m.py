"""``python -m prefork`` puts the working directory first on ``sys.path``, so a project's
file named as a standard library module the master itself imports (``json.py``) is
what prefork's own ``import json`` loads: every worker then failed to boot with a
traceback in prefork's code (``module 'json' has no attribute 'dumps'``). The master
now refuses it at the start, in one line naming the file; the console script, which
does not put the working directory on the path, serves the same project."""

import os
import subprocess

from test_app_loading import console_script, prefork_m, root_only_env, write

PROJECT = {
    "json.py": "ENCODER = 'own'\n",
    "service.py": """
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"app": "service"}']
    """,
}


def test_a_project_json_py_taken_for_the_stdlib_under_python_m_is_refused_in_one_line(runs, tmp_path):
    project = write(tmp_path / "proj", PROJECT)
    run = runs(prefork_m("service:app"), cwd=project)
    assert run.wait_exit() == 2
    log = run.log()
    assert f"{project / 'json.py'} was imported as the standard library's 'json': the working directory is " \
           f"first on the Python path (python -m puts it there): rename the file (or package), or start " \
           f"prefork with its console script\n" in log, log
    assert "Traceback" not in log and "booting worker" not in log, log


def test_the_app_module_itself_named_json_is_refused_the_same_way(runs, tmp_path):
    project = write(tmp_path / "proj", {"json.py": PROJECT["service.py"]})
    run = runs(prefork_m("json:app"), cwd=project)
    assert run.wait_exit() == 2
    assert "json.py was imported as the standard library's 'json'" in run.log(), run.log()


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
