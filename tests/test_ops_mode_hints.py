"""A file mode out of range in the TOML file: the hint says what to write for the digits
the operator wrote. ``unix_socket_mode = 660`` (TOML's decimal 660, 0o1224) used to be
told to "write 0o777", a world-writable socket nobody asked for; it is told 0o660. A
mode written in octal (``0o1777``, the sticky bit) is shown as written, without a hint
that the integer was decimal; a decimal one whose digits are no mode gets no spelling.

Each case runs ``prefork check-config`` on a real file: exit status 2, one
``FILE:KEY: what is wrong`` line."""

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


RANGE = "expected a mode from 0o000 to 0o777, got"


@pytest.mark.parametrize("line, problem", [
    ("unix_socket_mode = 660", f'{RANGE} 660 (= 0o1224; an integer is decimal in TOML: write 0o660 or "0o660")'),
    ("unix_socket_mode = 600  # owner only",
     f'{RANGE} 600 (= 0o1130; an integer is decimal in TOML: write 0o600 or "0o600")'),
    ("umask = 644", f'{RANGE} 644 (= 0o1204; an integer is decimal in TOML: write 0o644 or "0o644")'),
    ("unix_socket_mode = 777", f'{RANGE} 777 (= 0o1411; an integer is decimal in TOML: write 0o777 or "0o777")'),
    ("unix_socket_mode = 0o1777", f"{RANGE} 0o1777"),
    ("unix_socket_mode = 0o1000", f"{RANGE} 0o1000"),
    ("umask = 0x200", f"{RANGE} 0o1000"),
    ("unix_socket_mode = 1000", f"{RANGE} 1000 (= 0o1750)"),
    ("unix_socket_mode = 999", f"{RANGE} 999 (= 0o1747)"),
    ("umask = -1", f"{RANGE} -1"),
    ('"unix_socket_mode" = 660', f'{RANGE} 660 (= 0o1224; an integer is decimal in TOML: write 0o660 or "0o660")'),
    ("'umask' = 0o1000", f"{RANGE} 0o1000"),
])
def test_a_mode_out_of_range_gets_the_spelling_of_the_digits_written_or_none(tmp_path, line, problem):
    proc = check(tmp_path, line)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    name = line.partition(" = ")[0].strip("\"'")  # (a quoted key is the same key)
    assert proc.stderr.splitlines() == [f"{tmp_path / 'prefork.toml'}:{name}: {problem}"], proc.stderr


def test_the_spelling_given_is_taken(tmp_path):
    proc = check(tmp_path, "unix_socket_mode = 0o660")
    assert proc.returncode == 0, proc.stderr
    assert 'unix_socket_mode = "0o660"  # ' + str(tmp_path / "prefork.toml") + ":unix_socket_mode" in \
        proc.stdout.splitlines(), proc.stdout
