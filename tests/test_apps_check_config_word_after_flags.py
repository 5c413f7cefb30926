"""``check-config`` written after the app of a gunicorn command line (``prefork -k
uvicorn.workers.UvicornWorker main:app check-config``) is answered with the command to
write, whose app is the one the command names, not the value of the gunicorn flag that
argparse took for it; and that command checks the app."""

import subprocess
import sys

import pytest

from daemon import python_env

APP = "apps.hello:setup"


def prefork(*args, cwd):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=30,
                          cwd=cwd, env=python_env(), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("flags", [
    ["-k", "uvicorn.workers.UvicornWorker"],
    ["--worker-class", "gthread"],
    ["--access-logfile", "-"],
], ids=["worker-class-short", "worker-class", "access-logfile"])
def test_check_config_after_the_app_names_the_app_not_a_flags_value(flags, tmp_path):
    proc = prefork(*flags, APP, "check-config", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert f"  check-config takes the app's place: prefork check-config {APP} [options]" in lines, proc.stderr
    checked = prefork("check-config", APP, "--metrics-bind", "", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f'app = "{APP}"  # argv:--app' in checked.stdout.splitlines(), checked.stdout
