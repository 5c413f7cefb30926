"""``prefork --check-config`` imports the app (gunicorn's spelling) but printed none of the
"has no effect" warnings each worker logs at its start for a setting the app's interface
does not use (``--threads`` for an events app, ``--lifespan`` for a WSGI one): it prints
them on stderr as warnings, and the verdict stays 0."""

import os
import subprocess
import sys

import pytest

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def apps_dir(tmp_path):
    (tmp_path / "events_app.py").write_text("def setup(server):\n    pass\n")
    (tmp_path / "wsgi_app.py").write_text("def app(environ, start_response):\n"
                                          "    start_response('200 OK', [])\n    return [b'x']\n")
    return tmp_path


def _check(cwd, *args):
    return subprocess.run([sys.executable, "-m", "prefork", "--check-config", *args], cwd=cwd,
                          env=python_env(), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, warning", [
    (("--threads", "4", "events_app"), "argv:--threads: has no effect on an events setup(server)"),
    (("--lifespan", "on", "wsgi_app:app"), "argv:--lifespan: has no effect on a WSGI app"),
])
def test_check_config_prints_what_a_worker_would_warn_of(apps_dir, args, warning):
    run = _check(apps_dir, *args)
    assert run.returncode == 0, run.stderr
    assert f"warning: {warning}" in run.stderr.splitlines(), run.stderr
    assert run.stdout.startswith("# effective settings"), run.stdout[:200]


def test_no_warning_for_a_setting_the_app_uses(apps_dir):
    run = _check(apps_dir, "--threads", "4", "wsgi_app:app")
    assert run.returncode == 0 and "has no effect" not in run.stderr, run.stderr
