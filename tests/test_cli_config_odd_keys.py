"""A configuration file's key that is no setting is named on one line as TOML would write
it (quoted when it is empty, holds a blank or a control character), with the setting
meant when the key is one written in capitals, with the variable's ``PREFORK_`` prefix
or in fullwidth letters; an array of tables is a table; a key TOML cannot read without
quotes (``wörkers``) is named with the character at fault; a date given for a number is
shown as TOML writes it. Every refusal: exit status 2, nothing bound."""

import subprocess
import sys

import pytest

from daemon import python_env


def refusal(tmp_path, text):
    config = tmp_path / "prefork.toml"
    config.write_text(text + f'\nbind = ["unix:{tmp_path}/sock"]\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config), "--metrics-bind", ""],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path, env=python_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / "sock").exists()
    return [line.removeprefix(f"{config}:") for line in proc.stderr.splitlines()]


@pytest.mark.parametrize("text, says", [
    ('"" = 3', '"": unknown setting'),
    ('"a\\nb" = 3', '"a\\nb": unknown setting'),
    ('"work\\u0000ers" = 3', '"work\\u0000ers": unknown setting (did you mean workers?)'),
    ('"workers " = 3', '"workers ": unknown setting (did you mean workers?)'),
], ids=["empty", "newline", "nul", "blank"])
def test_an_unknown_key_is_named_on_one_line_as_toml_writes_it(tmp_path, text, says):
    assert refusal(tmp_path, text) == [says]


@pytest.mark.parametrize("text, says", [
    ("WORKERS = 3", "WORKERS: unknown setting (did you mean workers?)"),
    ("PREFORK_KEEP_ALIVE_TIMEOUT = 3", "PREFORK_KEEP_ALIVE_TIMEOUT: unknown setting (did you mean keep_alive_timeout?)"),
    ('"ｗｏｒｋｅｒｓ" = 3', '"ｗｏｒｋｅｒｓ": unknown setting (did you mean workers?)'),
], ids=["capitals", "variable-name", "fullwidth"])
def test_a_setting_written_otherwise_is_named(tmp_path, text, says):
    assert refusal(tmp_path, text) == [says]


def test_an_array_of_tables_is_told_settings_are_top_level_keys(tmp_path):
    assert refusal(tmp_path, "[[server]]\nworkers = 3") == [
        "server: unknown setting (a table: settings are top-level keys, written before any [table])"]


@pytest.mark.parametrize("key, odd, near", [
    ("wörkers", "'ö' (U+00F6)", "; did you mean workers?"),
    ("x🙂", "'🙂' (U+1F642)", ""),
])
def test_a_bare_key_toml_cannot_read_names_its_character(tmp_path, key, odd, near):
    (line,) = refusal(tmp_path, f"{key} = 3")
    assert line.startswith(" not valid TOML: "), line
    assert line.endswith(f"(a key without quotes is ASCII letters, digits, _ and - only: {key} has {odd}{near})")


def test_a_date_for_a_number_is_shown_as_toml_writes_it(tmp_path):
    assert sorted(refusal(tmp_path, "workers = 1979-05-27\nbacklog = 07:32:00")) == [
        "backlog: expected an integer, got 07:32:00", "workers: expected an integer, got 1979-05-27"]
