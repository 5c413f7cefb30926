"""``check-config`` written after the app (``prefork main:app check-config``) is refused
as an unknown argument, exit status 2, with where the word goes; written first, with the
same app, it checks the settings (here: the app's module is not found, also status 2,
but as the check's own verdict)."""

import subprocess
import sys

from daemon import python_env


def run(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "prefork", *argv], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=python_env())


def test_check_config_after_the_app_says_where_it_goes(tmp_path):
    proc = run(tmp_path, "main:app", "-w", "2", "check-config")
    assert proc.returncode == 2
    assert "unrecognized arguments: check-config" in proc.stderr
    assert "check-config takes the app's place: prefork check-config main:app [options]" in proc.stderr


def test_check_config_first_checks(tmp_path):
    (tmp_path / "main.py").write_text("def app(environ, start_response):\n    pass\n")
    proc = run(tmp_path, "check-config", "main:app", "-w", "2")
    assert proc.returncode == 0, proc.stderr
    assert "workers = 2  # argv:--workers" in proc.stdout
