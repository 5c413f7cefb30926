"""A decimal mode of octal digits in the TOML file is refused however its key or sign is
written: TOML reads ``"umask" = 77``, ``'umask' = 77`` and ``umask = +77`` as the decimal
77 (0o115, files writable by others) exactly as it reads ``umask = 77``."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, line):
    config = tmp_path / "prefork.toml"
    config.write_text(line + "\n")
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, env=python_env(), cwd=tmp_path,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("line, name, digits, octal", [
    ('"umask" = 77', "umask", "77", "0o077"),
    ("'umask' = 22", "umask", "22", "0o022"),
    ("umask = +27", "umask", "27", "0o027"),
    ('"unix_socket_mode" = 444', "unix_socket_mode", "444", "0o444"),
    ("unix_socket_mode = +444  # all may read", "unix_socket_mode", "444", "0o444"),
])
def test_a_quoted_key_or_a_plus_sign_does_not_hide_a_decimal_mode(tmp_path, line, name, digits, octal):
    proc = check(tmp_path, line)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"{tmp_path / 'prefork.toml'}:{name}: {digits} is a decimal integer in TOML (= 0o{int(digits):03o}), "
        f"not the octal mode {octal}: write {octal} (or \"{octal}\")"], proc.stderr


@pytest.mark.parametrize("line, shown", [
    ('"umask" = 0o077', 'umask = "0o077"'),
    ("umask = +7", 'umask = "0o007"'),
    ("'umask' = 18", 'umask = "0o022"'),  # not octal digits: decimal, as TOML says
])
def test_a_quoted_key_with_a_mode_that_says_what_it_means_is_taken(tmp_path, line, shown):
    proc = check(tmp_path, line)
    assert proc.returncode == 0, proc.stderr
    assert any(out.startswith(shown + "  #") for out in proc.stdout.splitlines()), proc.stdout
