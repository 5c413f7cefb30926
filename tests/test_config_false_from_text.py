"""``metrics_bind`` given a switch word from a flag or the environment (``--metrics-bind
false``, ``PREFORK_METRICS_BIND=off``) was refused as an address without a port: "write
false:8000". It is refused as a switch word, saying how to turn the metrics off (as
``access_log`` does: tests/test_logs_destinations.py); ``false`` in the configuration file
turns them off."""

import os
import subprocess
import sys

import pytest

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(*args, **env):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], cwd=ROOT,
                          env=python_env(**env), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, env, source, value", [
    (("--metrics-bind", "false"), {}, "argv:--metrics-bind", "false"),
    ((), {"PREFORK_METRICS_BIND": "off"}, "env:PREFORK_METRICS_BIND", "off"),
])
def test_a_switch_word_for_metrics_bind_says_how_to_turn_metrics_off(args, env, source, value):
    run = _check(*args, **env)
    assert run.returncode == 2, run.stdout
    assert (f"{source}: {value!r} is no address: metrics_bind takes HOST:PORT or fd://N, and an empty value "
            "(false in the configuration file) turns the metrics off") in run.stderr, run.stderr
    assert "write false:8000" not in run.stderr


def test_false_in_the_file_and_the_empty_flag_turn_metrics_off(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("metrics_bind = false\n")
    run = _check("-c", str(config))
    assert run.returncode == 0 and f'metrics_bind = ""  # {config}:metrics_bind' in run.stdout.splitlines(), run
    run = _check("--metrics-bind", "")
    assert run.returncode == 0 and 'metrics_bind = ""  # argv:--metrics-bind' in run.stdout.splitlines(), run
