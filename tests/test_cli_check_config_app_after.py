"""``check-config`` in the app's place after the options, with the app written after it
(``prefork --config FILE check-config main:app``), checks that app with those options;
it was refused as ``unrecognized arguments: main:app``. Two words after it are still
refused (status 2)."""

import subprocess
import sys

from daemon import python_env


def run(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "prefork", *argv], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=python_env())


def test_check_config_after_the_options_takes_the_app_after_it(tmp_path):
    (tmp_path / "main.py").write_text("def app(environ, start_response):\n    pass\n")
    (tmp_path / "prefork.toml").write_text("workers = 3\n")
    proc = run(tmp_path, "--config", "prefork.toml", "check-config", "main:app", "--timeout", "7")
    assert proc.returncode == 0, proc.stderr
    assert "workers = 3  # prefork.toml:workers" in proc.stdout
    assert 'app = "main:app"  # argv:--app' in proc.stdout
    assert "timeout = 7.0  # argv:--timeout" in proc.stdout


def test_check_config_after_the_options_checks_the_app_after_it(tmp_path):
    proc = run(tmp_path, "-w", "2", "check-config", "nosuchmodule:app")
    assert proc.returncode == 2
    assert "argv:--app: no module named 'nosuchmodule'" in proc.stderr


def test_two_words_after_check_config_are_refused(tmp_path):
    proc = run(tmp_path, "-w", "2", "check-config", "main:app", "extra")
    assert proc.returncode == 2
    assert "unrecognized arguments: main:app extra" in proc.stderr
