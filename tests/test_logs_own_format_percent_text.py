"""prefork's own access log format may hold text that merely looks like a %-format
(``(cache %(hit) or miss)``, ``90%(approx)``, ``(%(x)d)``): it is accepted and logged as
written. Only gunicorn's atoms (``%(x)s``, or one of gunicorn's atom names with a width,
flags or another conversion) are refused as gunicorn's format."""

import subprocess
import sys

import pytest

from daemon import python_env


def check_config(tmp_path, fmt):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", "--access-log-format", fmt,
                           "--metrics-bind", ""], capture_output=True, text=True, timeout=30, cwd=tmp_path,
                          env=python_env(), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("fmt", [
    "{r} {s} {D}us (cache %(hit) or miss)",
    "{D} us (saved 90%(approx) so far)",
    "{h} (%(x)d)",
])
def test_text_that_only_looks_like_a_percent_format_is_accepted(tmp_path, fmt):
    out = check_config(tmp_path, fmt)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("fmt", ["%(h)s {s}", "{h} %(zz)s", "%(h)-20s {s}", "{h} %(D)8d", "%({x-id}i)10s",
                                 "{h} %(h) 10s", "{h} %(D) 8d"])
def test_gunicorns_atoms_are_still_refused_as_gunicorns(tmp_path, fmt):
    out = check_config(tmp_path, fmt)
    assert out.returncode == 2
    assert "gunicorn's %(x)s fields are not read here" in out.stderr, out.stderr
