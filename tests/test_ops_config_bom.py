"""A configuration file saved with a byte order mark (Notepad, PowerShell 5's
``Out-File -Encoding utf8``) is not TOML, and the error says why: the mark is invisible
in the editor, and "Invalid statement (at line 1, column 1)" alone points at nothing."""

import subprocess
import sys

from daemon import python_env


def test_a_byte_order_mark_is_named(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_bytes(b"\xef\xbb\xbfworkers = 2\r\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, env=python_env(), cwd=tmp_path,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{config}: not valid TOML: ")
    assert line.endswith("(the file starts with a byte order mark, U+FEFF: save it as UTF-8 without one)")
