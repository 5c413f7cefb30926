"""A file mode in the TOML file: ``umask = 77`` is TOML's decimal 77 (0o115, which
leaves files writable by others), while ``--umask 77`` and ``PREFORK_UMASK=77`` are
0o077. Such a decimal literal of octal digits is a configuration error naming the
octal spelling; an explicit octal literal, a string, or a value that reads the same
in both bases is taken."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, line, *args):
    config = tmp_path / "prefork.toml"
    config.write_text(line + "\n")
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=30, env=python_env(), cwd=tmp_path,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("line, octal", [
    ("umask = 77", "0o077"),
    ("umask = 22", "0o022"),
    ("umask = 27  # group may read", "0o027"),
    ("unix_socket_mode = 400", "0o400"),
])
def test_a_decimal_mode_of_octal_digits_is_refused_with_the_octal_spelling(tmp_path, line, octal):
    proc = check(tmp_path, line)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    name, _, value = line.partition(" = ")
    digits = value.split()[0]
    assert proc.stderr.splitlines() == [
        f"{tmp_path / 'prefork.toml'}:{name}: {digits} is a decimal integer in TOML (= 0o{int(digits):03o}), "
        f"not the octal mode {octal}: write {octal} (or \"{octal}\")"], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("line, shown", [
    ("umask = 0o077", 'umask = "0o077"'),
    ('umask = "077"', 'umask = "0o077"'),
    ("umask = 7", 'umask = "0o007"'),
    ("umask = 18", 'umask = "0o022"'),  # not octal digits: decimal, as TOML says
    ("unix_socket_mode = 0o660", 'unix_socket_mode = "0o660"'),
])
def test_modes_that_say_what_they_mean_are_taken(tmp_path, line, shown):
    proc = check(tmp_path, line)
    assert proc.returncode == 0, proc.stderr
    assert any(out.startswith(shown + "  #") for out in proc.stdout.splitlines()), proc.stdout


def test_the_same_digits_as_a_flag_or_variable_are_octal(tmp_path):
    proc = check(tmp_path, "umask = 0o022", "--umask", "77")
    assert proc.returncode == 0, proc.stderr
    assert 'umask = "0o077"  # argv:--umask' in proc.stdout.splitlines()
