"""A boolean setting given as a ``PREFORK_*`` variable takes ``on`` and ``off`` (in any
case) beside 1/0, true/false and yes/no, as uvicorn's ``UVICORN_RELOAD=on`` does: a
variable carried over from such an environment is not refused."""

import subprocess
import sys

import pytest

from daemon import python_env


def check_config(tmp_path, **env):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", "apps.basic:setup", "--metrics-bind", ""],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path, env=python_env(**env),
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("word, value", [("on", "true"), ("ON", "true"), ("off", "false"), ("Off", "false")])
def test_on_and_off_turn_a_switch_on_and_off(tmp_path, word, value):
    proc = check_config(tmp_path, PREFORK_RELOAD=word, PREFORK_PROXY_PROTOCOL=word)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"reload = {value}  # env:PREFORK_RELOAD" in lines, proc.stdout
    assert f"proxy_protocol = {value}  # env:PREFORK_PROXY_PROTOCOL" in lines, proc.stdout


def test_another_word_is_still_refused(tmp_path):
    proc = check_config(tmp_path, PREFORK_RELOAD="onn")
    assert proc.returncode == 2
    assert "env:PREFORK_RELOAD: expected true or false, got 'onn'" in proc.stderr.splitlines(), proc.stderr
