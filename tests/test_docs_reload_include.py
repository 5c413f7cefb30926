"""--reload-include as a uvicorn or gunicorn user writes it. uvicorn's --reload-include
and gunicorn's reload_extra_files add to the app's Python files; prefork's
reload_include replaces its default *.py (--help says so), so patterns that leave the
Python files out are warned about: the app's own edits would no longer reload."""

import subprocess
import sys

import pytest

from daemon import python_env


def check_config(tmp_path, *args):
    (tmp_path / "svc.py").write_text("def setup(server):\n    server.on('request', lambda req, res: res.end())\n")
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", "svc:setup", *args], cwd=tmp_path,
                          env=python_env(), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("patterns", [["*.html"], ["templates/*.html", "*.css"]])
def test_patterns_that_leave_out_python_files_are_warned_about(tmp_path, patterns):
    args = ["--reload"] + [arg for pattern in patterns for arg in ("--reload-include", pattern)]
    run = check_config(tmp_path, *args)
    assert run.returncode == 0, run.stderr
    assert (f"warning: argv:--reload-include: {', '.join(patterns)} replaces the default *.py, so a change to "
            "the app's Python files no longer reloads") in run.stderr, run.stderr


@pytest.mark.parametrize("patterns", [["*.py", "*.html"], ["**/*.py"], ["svc.py"]])
def test_patterns_with_python_files_are_not(tmp_path, patterns):
    args = ["--reload"] + [arg for pattern in patterns for arg in ("--reload-include", pattern)]
    run = check_config(tmp_path, *args)
    assert run.returncode == 0 and "replaces the default" not in run.stderr, run.stderr
