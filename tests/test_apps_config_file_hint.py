"""A configuration file given where the app goes (``prefork prefork.toml``, or gunicorn's
``gunicorn.conf.py``) is refused, ``argv:--app`` and exit status
2, with the hint a user needs: TOML goes with ``--config``; gunicorn's Python file is not
read, and where its names are mapped. A plain ``app.py`` keeps its own hint."""

import subprocess
import sys

import pytest

from daemon import python_env


@pytest.mark.parametrize("given, hint", [
    ("prefork.toml", "(prefork.toml is a configuration file: give it with --config prefork.toml)"),
    ("config/prefork.toml", "a configuration file (give it with --config config/prefork.toml)"),
    ("gunicorn.conf.py", "is a gunicorn configuration file? prefork reads its settings from a TOML file "
                         "given with --config; docs/gunicorn.md"),
    ("app.py", "(a file name: did you mean app?)"),
])
def test_a_file_given_as_the_app_is_refused_with_its_hint(tmp_path, given, hint):
    proc = subprocess.run([sys.executable, "-m", "prefork", given], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=python_env())
    assert proc.returncode == 2
    assert "argv:--app: " in proc.stderr and repr(given) in proc.stderr
    assert hint in proc.stderr
