"""A configuration file TOML cannot read says what is wrong in the file's own words: a
key set twice names the key and both its lines (TOML's "Cannot overwrite a value" names
neither), and a string written without quotes, as an INI file or a shell variable would
have it (``bind = 0.0.0.0:8000``, ``log_level = info``), is shown quoted. Still one
``FILE: not valid TOML: ...`` line and exit status 2, nothing bound."""

import subprocess
import sys

import pytest

from daemon import python_env


def refusal(tmp_path, text):
    config = tmp_path / "prefork.toml"
    config.write_text(text + f'\n# bind = ["unix:{tmp_path}/sock"]\n')
    proc = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config), "--metrics-bind", ""],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path, env=python_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{config}: not valid TOML: "), line
    assert not (tmp_path / "sock").exists()
    return line


@pytest.mark.parametrize("text, says", [
    ("workers = 4\ntimeout = 30\nworkers = 5", "(workers is set twice, at lines 1 and 3: a key is set once)"),
    ('"workers" = 4\n[workers]', "(workers is set twice, at lines 1 and 2: a key is set once)"),
], ids=["two-values", "a-value-then-a-table"])
def test_a_key_set_twice_is_named_with_both_its_lines(tmp_path, text, says):
    assert refusal(tmp_path, text).endswith(says)


@pytest.mark.parametrize("text, says", [
    ("workers = 2\nbind = 0.0.0.0:8000", '(a string is written in quotes: bind = ["0.0.0.0:8000"])'),
    ("log_level = info", '(a string is written in quotes: log_level = "info")'),
    ("access_log = -  # stderr", '(a string is written in quotes: access_log = "-")'),
    ("proc_name = my app", '(a string is written in quotes: proc_name = "my app")'),
], ids=["list", "choice", "dash-and-comment", "spaces"])
def test_a_string_written_without_quotes_is_shown_quoted(tmp_path, text, says):
    assert refusal(tmp_path, text).endswith(says)


@pytest.mark.parametrize("text", ["timeout = 30s", "workers = = 2", "reload = yes", "umask = 0o2x"])
def test_a_value_that_is_no_string_gets_no_quoting_advice(tmp_path, text):
    assert "quotes" not in refusal(tmp_path, text)
