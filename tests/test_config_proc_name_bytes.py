"""A ``proc_name`` holding bytes that are not UTF-8 (argv and the environment carry them
as surrogates) is refused as a configuration error naming the bytes, by check-config and
at start alike: the start died with a UnicodeEncodeError traceback when it set the
master's process title, after check-config had printed the name as valid."""

import os
import subprocess
import sys

import pytest

from daemon import python_env

BAD = os.fsdecode(b"caf\xe9")
SAYS = "'caf\\xe9' holds bytes that are not UTF-8: a process title is text"


def run(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=30,
                          env={**python_env(), **(env or {})}, cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("command", [["check-config"], ["-b", "127.0.0.1:0"]])
def test_a_proc_name_of_undecodable_bytes_is_refused_by_name(tmp_path, command):
    proc = run(tmp_path, *command, "apps.basic:setup", "--proc-name", BAD)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"argv:--proc-name: {SAYS}"], proc.stderr
    proc = run(tmp_path, *command, "apps.basic:setup", env={"PREFORK_PROC_NAME": BAD})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"env:PREFORK_PROC_NAME: {SAYS}"], proc.stderr


def test_a_proc_name_in_utf_8_is_taken(tmp_path):
    proc = run(tmp_path, "check-config", "apps.basic:setup", "--proc-name", "café ☕")
    assert proc.returncode == 0, proc.stderr
    assert 'proc_name = "café ☕"' in proc.stdout
