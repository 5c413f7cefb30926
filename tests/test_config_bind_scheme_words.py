"""A bind address that is a form's word with nothing after it (``unix:``, ``fd:``,
``tcp:``) is refused without the "no port" hint a host name gets: ``unix:8000`` would be
a UNIX socket file named 8000, not a port."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], capture_output=True, text=True,
                          timeout=30, env=python_env(), cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("address, says", [
    ("unix:", "unix:: no socket path after unix: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"),
    ("http://unix:", "unix:: no socket path after unix: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"),
    ("unix", "unix: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (a UNIX socket is written unix:PATH)"),
    ("fd:", "fd:: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (a descriptor is written fd://N)"),
    ("tcp:", "tcp:: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (a TCP address is written HOST:PORT)"),
])
def test_a_forms_word_alone_is_not_told_to_add_a_port(tmp_path, address, says):
    proc = check(tmp_path, "--bind", address)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"argv:--bind: {says}"], proc.stderr


def test_a_host_alone_is_still_told_its_port(tmp_path):
    proc = check(tmp_path, "--bind", "localhost:")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "argv:--bind: localhost:: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (no port: write localhost:8000)"]


def test_the_same_in_the_file(tmp_path):
    (tmp_path / "prefork.toml").write_text('bind = ["127.0.0.1:8000", "unix:"]\n')
    proc = check(tmp_path, "-c", "prefork.toml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "prefork.toml:bind: unix:: no socket path after unix: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"]
