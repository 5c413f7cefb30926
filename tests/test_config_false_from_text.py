"""A text setting whose empty value turns a feature off also takes false, as its help
says ("empty (or false) disables"): from the configuration file it did, but a flag's or
an environment variable's `false` was refused (`--metrics-bind false`: "expected
HOST:PORT ... write false:8000") or taken for a file named false."""

import os
import subprocess
import sys

import pytest

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(*args, **env):
    run = subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], cwd=ROOT,
                         env=python_env(**env), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("args, env, line", [
    (("--metrics-bind", "false"), {}, 'metrics_bind = ""  # argv:--metrics-bind'),
    ((), {"PREFORK_METRICS_BIND": "false"}, 'metrics_bind = ""  # env:PREFORK_METRICS_BIND'),
    (("--access-log", "FALSE"), {}, 'access_log = ""  # argv:--access-log'),
    ((), {"PREFORK_ACCESS_LOG": "false"}, 'access_log = ""  # env:PREFORK_ACCESS_LOG'),
])
def test_false_from_a_flag_or_the_environment_turns_the_feature_off(args, env, line):
    assert line in _check(*args, **env).splitlines()


def test_other_text_settings_keep_false_as_text():
    """(only the settings whose empty value means off: a name stays a name)"""
    assert 'proc_name = "false"  # argv:--proc-name' in _check("--proc-name", "false").splitlines()
