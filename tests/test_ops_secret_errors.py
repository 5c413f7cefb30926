"""A secret given a value of the wrong type in the TOML file (a numeric key password
written without quotes) is refused without the value: the error goes to the terminal,
the journal and the error log, and check-config itself never prints a secret."""

import subprocess
import sys

from daemon import python_env


def test_a_password_of_the_wrong_type_is_refused_without_being_shown(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("keyfile_password = 83457261\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, env=python_env(), cwd=tmp_path,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "83457261" not in proc.stderr + proc.stdout
    assert proc.stderr.splitlines() == [
        f"{config}:keyfile_password: expected a string, got an integer (not shown: a secret)"], proc.stderr


def test_other_settings_still_show_the_value_given(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("proc_name = 42\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, env=python_env(), cwd=tmp_path,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"{config}:proc_name: expected a string, got 42"], proc.stderr
