"""A variable another server reads (``WEB_CONCURRENCY``, ``PORT``), set but empty, is
no value: a compose file's ``WEB_CONCURRENCY=${WEB_CONCURRENCY}`` with nothing on the
host gives one (gunicorn and uvicorn stop on it with a traceback). The start goes on
with what comes next (the CPU count, ``127.0.0.1:8000``), as for an empty ``PORT``;
a value that is there and wrong is still refused."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, env):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config"], capture_output=True, text=True,
                          timeout=30, env=python_env(**env), cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_platform_variable_is_no_value(tmp_path, value):
    proc = check(tmp_path, {"WEB_CONCURRENCY": value, "PORT": value})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    workers = [line for line in lines if line.startswith("workers = ")]
    assert len(workers) == 1 and workers[0].endswith("  # default"), lines
    assert 'bind = ["127.0.0.1:8000"]  # default' in lines, lines


def test_a_wrong_one_is_still_refused(tmp_path):
    proc = check(tmp_path, {"WEB_CONCURRENCY": " x "})
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.splitlines() == ["env:WEB_CONCURRENCY: expected an integer, got ' x '"], proc.stderr
