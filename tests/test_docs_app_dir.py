"""--app-dir as a gunicorn user writes --pythonpath: a directory that does not exist is
named as such, also when the app is then not found anywhere (the module's "no module
named" line alone hid where the search looked), and a comma-separated list, gunicorn's
--pythonpath A,B, is told to be one directory."""

import subprocess
import sys

from daemon import python_env


def prefork(cwd, *args):
    run = subprocess.run([sys.executable, "-m", "prefork", *args], cwd=cwd, env=python_env(),
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return run.returncode, run.stderr


def project(tmp_path):
    for name in ("api", "lib"):
        (tmp_path / name).mkdir()
    (tmp_path / "api" / "svc_app_dir.py").write_text(
        "def setup(server):\n    server.on('request', lambda req, res: res.end())\n")
    return tmp_path


def test_a_missing_app_dir_is_named_when_the_app_is_not_found_either(tmp_path):
    root = project(tmp_path)
    for command in (["check-config"], []):  # the daemon refuses to start with the same lines
        code, err = prefork(root, *command, "svc_app_dir:setup", "--app-dir", "src", "-b", "127.0.0.1:0",
                            "--metrics-bind", "")
        assert code == 2, err
        assert err.splitlines() == [f"argv:--app-dir: {root / 'src'}: no such directory",
                                    "argv:--app: no module named 'svc_app_dir'"], err


def test_gunicorns_comma_separated_pythonpath_is_told_to_be_one_directory(tmp_path):
    root = project(tmp_path)
    code, err = prefork(root, "check-config", "svc_app_dir:setup", "--app-dir", "api,lib")
    assert code == 2, err
    assert err.splitlines()[0] == (f"argv:--app-dir: {root / 'api,lib'}: no such directory: app_dir is one "
                                   "directory (gunicorn's --pythonpath A,B is app_dir A, with B in PYTHONPATH)"), err
    code, err = prefork(root, "check-config", "svc_app_dir:setup", "--app-dir", "api")
    assert code == 0, err
