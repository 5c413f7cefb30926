"""A list flag given twice: where the flag takes the whole list in one value
(``--forwarded-allow-ips 10.0.0.1,10.0.0.2``, ``--proxy-allow-from``'s equal), the last
one given wins, as gunicorn's argparse and uvicorn's click take a repeated option
(a wrapper script's later flag overrides its earlier one instead of adding peers to
trust); where one flag is one entry (``-b``, ``--proxy-protocol-bind``, ``--reload-dir``,
``--reload-include``, as gunicorn's ``-b`` and uvicorn's ``--reload-dir``), repeats add."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, *args):
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], capture_output=True, text=True,
                          timeout=30, env=python_env(), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize("flag, name, extra", [
    ("--forwarded-allow-ips", "forwarded_allow_ips", ()),
    ("--proxy-allow-ips", "proxy_allow_ips", ("--proxy-protocol",)),
])
def test_a_whole_list_flag_given_twice_takes_the_last(tmp_path, flag, name, extra):
    lines = check(tmp_path, *extra, flag, "10.0.0.1,10.0.0.2", flag, "192.168.0.0/16")
    assert f'{name} = ["192.168.0.0/16"]  # argv:{flag}' in lines, lines


def test_the_equals_spelling_and_an_empty_last_value_are_taken_alike(tmp_path):
    lines = check(tmp_path, "--forwarded-allow-ips=*", "--forwarded-allow-ips=")
    assert "forwarded_allow_ips = []  # argv:--forwarded-allow-ips" in lines, lines


def test_entry_flags_given_twice_add(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lines = check(tmp_path, "-b", "127.0.0.1:0", "--bind", "[::1]:0", "--proxy-protocol-bind", "127.0.0.1:0",
                  "--proxy-protocol-bind", "[::1]:0", "--reload", "--reload-dir", "a", "--reload-dir", "b",
                  "--reload-include", "*.py", "--reload-include", "*.html")
    assert 'bind = ["127.0.0.1:0", "[::1]:0"]  # argv:--bind' in lines, lines
    assert 'proxy_protocol_bind = ["127.0.0.1:0", "[::1]:0"]  # argv:--proxy-protocol-bind' in lines, lines
    assert 'reload_dirs = ["a", "b"]  # argv:--reload-dirs' in lines, lines
    assert 'reload_include = ["*.py", "*.html"]  # argv:--reload-include' in lines, lines
