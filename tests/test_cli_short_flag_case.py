"""A short flag's hint is the flag's own, case and all: gunicorn's ``-R`` and ``-D`` get
theirs, while ``-r`` and ``-d``, which neither gunicorn nor uvicorn has, are refused
without being taken for them."""

import subprocess
import sys

import pytest

from daemon import python_env


@pytest.mark.parametrize("flag, hint", [("-R", "-R is gunicorn's"), ("-D", "-D is gunicorn's"),
                                        ("-r", None), ("-d", None)])
def test_short_flag_hints_keep_their_case(tmp_path, flag, hint):
    proc = subprocess.run([sys.executable, "-m", "prefork", flag, "app:setup"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=python_env())
    assert proc.returncode == 2
    assert f"unrecognized arguments: {flag}" in proc.stderr
    if hint is None:
        assert "gunicorn's" not in proc.stderr and "uvicorn's" not in proc.stderr, proc.stderr
    else:
        assert hint in proc.stderr
