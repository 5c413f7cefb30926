"""APP written with a dot where the attribute's colon goes (``app.app``, as uvicorn also
refuses it) is refused naming the spelling that would load it."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, app):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", app], capture_output=True, text=True,
                          timeout=30, env=python_env(), cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("app, parent, meant", [
    ("web.app", "web", "web:app"),
    ("web.site.app", "web", "web:site.app"),
    ("pkg.views.app", "pkg.views", "pkg.views:app"),
])
def test_a_dotted_attribute_is_answered_with_its_colon(tmp_path, app, parent, meant):
    (tmp_path / "web.py").write_text("app = None\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "views.py").write_text("app = None\n")
    proc = check(tmp_path, app)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"argv:--app: cannot import {app!r}: {parent!r} is not a package (an attribute is named after a colon: "
        f"did you mean {meant}?)"], proc.stderr


def test_the_colon_spelling_is_taken(tmp_path):
    (tmp_path / "web.py").write_text("app = None\n")
    proc = check(tmp_path, "web:app")
    assert proc.returncode == 0, proc.stderr
