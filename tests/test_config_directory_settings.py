"""A setting that names a directory (chdir, app_dir, reload_dirs) says whether the path
is missing ("no such directory") or names something else, a file ("not a directory")."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], capture_output=True, text=True,
                          timeout=30, env=python_env(), cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("flags, source", [
    (["--chdir"], "argv:--chdir"),
    (["--app-dir"], "argv:--app-dir"),
    (["--reload", "--reload-dir"], "argv:--reload-dirs"),
])
def test_a_file_named_as_a_directory_is_not_called_missing(tmp_path, flags, source):
    (tmp_path / "app.py").write_text("def app(environ, start_response):\n    pass\n")
    (tmp_path / "settings.py").write_text("")
    proc = check(tmp_path, *flags, str(tmp_path / "settings.py"), "app:app")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[0] == f"{source}: {tmp_path / 'settings.py'}: not a directory", proc.stderr


@pytest.mark.parametrize("flags, source", [
    (["--chdir"], "argv:--chdir"),
    (["--app-dir"], "argv:--app-dir"),
    (["--reload", "--reload-dir"], "argv:--reload-dirs"),
])
def test_a_missing_directory_is_called_missing(tmp_path, flags, source):
    (tmp_path / "app.py").write_text("def app(environ, start_response):\n    pass\n")
    proc = check(tmp_path, *flags, str(tmp_path / "gone"), "app:app")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[0] == f"{source}: {tmp_path / 'gone'}: no such directory", proc.stderr
