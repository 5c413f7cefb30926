"""The advice added to a configuration file's refusal names the right line and a fix that
works, or says nothing: a string is shown quoted only when TOML's error lies in that
line's value and the quoted line reads (not for an array left open above it, nor for
``key == value``), a comma-separated list setting as a list of strings, and a key
prefork does not have gets the key's hint, not quotes; a key set twice is named by its
lines in the same table, not by a line of another table or inside a multi-line string;
lines are counted at "\\n" only, as TOML counts them. A negative ``user`` or ``group`` is
an id out of range, as one too large is; a ``PREFORK_*`` boolean or choice takes
surrounding spaces, as the integer variables do. Each refusal: exit status 2, on stderr."""

import os
import subprocess
import sys

import pytest

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_config(tmp_path, text=None, **env):
    args = []
    if text is not None:
        config = tmp_path / "prefork.toml"
        config.write_bytes(text.encode())
        args = ["-c", str(config)]
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], cwd=tmp_path,
                          env=python_env(**env), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def refusal(tmp_path, text):
    run = check_config(tmp_path, text)
    assert run.returncode == 2, run
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"{tmp_path / 'prefork.toml'}: not valid TOML: "), line
    return line


@pytest.mark.parametrize("text", [
    'bind = ["0.0.0.0:80"\nproc_name = web\n',  # TOML's error is the array left open
    "proc_name == web\n",
    "log_level = = info\n",
], ids=["array-open-above", "double-equals", "spaced-double-equals"])
def test_no_quoting_advice_when_the_error_is_not_an_unquoted_value(tmp_path, text):
    assert "quotes" not in refusal(tmp_path, text)


def test_a_comma_separated_bind_is_shown_as_a_list_of_two_strings(tmp_path):
    line = refusal(tmp_path, "bind = 127.0.0.1:8000, 0.0.0.0:9000\n")
    assert line.endswith('(a string is written in quotes: bind = ["127.0.0.1:8000", "0.0.0.0:9000"])'), line


def test_another_servers_key_written_bare_gets_its_hint_not_quotes(tmp_path):
    line = refusal(tmp_path, "host = 0.0.0.0\n")
    assert "quotes" not in line and line.endswith("(host is uvicorn's: use bind here (as HOST:PORT))"), line


def test_an_unknown_key_written_bare_gets_no_quoting_advice(tmp_path):
    assert "quotes" not in refusal(tmp_path, "proc = web\n")


@pytest.mark.parametrize("text, says", [
    ("workers = 2\n[extra]\nworkers = 3\nworkers = 4\n", "at lines 3 and 4"),
    ('x = """\nworkers = 1\n"""\nworkers = 2\nworkers = 3\n', "at lines 4 and 5"),
    ("workers = 2\n[a]\nb = 1\n[a]\n", None),
    ("[a]\nworkers = 1\n[b]\nworkers = 1\n[a]\nworkers = 2\n", None),
    ("".join(f"[[s]]\nworkers = {i}\n" for i in range(500)) + "workers = 1\n", "at lines 1000 and 1001"),
], ids=["another-table", "multi-line-string", "table-twice", "tables-reopened", "many-tables"])
def test_a_key_set_twice_is_named_by_its_lines_in_the_same_table(tmp_path, text, says):
    line = refusal(tmp_path, text)
    if says:
        assert line.endswith(f"(workers is set twice, {says}: a key is set once)"), line
    else:
        assert "workers is set twice" not in line, line


def test_lines_are_counted_at_newlines_only(tmp_path):
    # U+2028 in a comment is no line break to TOML: its error is on line 2, log_level's
    line = refusal(tmp_path, "# note\u2028access_log = x\nlog_level = info\n")
    assert "(at line 2," in line and line.endswith('(a string is written in quotes: log_level = "info")'), line


@pytest.mark.parametrize("text, says", [
    ("user = -1\n", "user: uid -1 out of range (0 to 4294967294)"),
    ("group = -5\n", "group: gid -5 out of range (0 to 4294967294)"),
    ('user = "-0"\n', "user: uid -0 out of range (0 to 4294967294)"),  # (the worker took it for a name)
])
def test_a_negative_id_in_the_file_is_out_of_range(tmp_path, text, says):
    run = check_config(tmp_path, text)
    assert run.returncode == 2 and run.stderr == f"{tmp_path / 'prefork.toml'}:{says}\n", run


def test_a_negative_id_in_a_variable_is_out_of_range(tmp_path):
    run = check_config(tmp_path, PREFORK_USER="-1")
    assert run.returncode == 2 and run.stderr == "env:PREFORK_USER: uid -1 out of range (0 to 4294967294)\n", run


@pytest.mark.parametrize("spelled, value", [(" on", "true"), ("off ", "false"), ("\tyes\n", "true")])
def test_a_boolean_variable_takes_surrounding_spaces(tmp_path, spelled, value):
    run = check_config(tmp_path, PREFORK_PROXY_PROTOCOL=spelled)
    assert run.returncode == 0, run
    assert f"proxy_protocol = {value}  # env:PREFORK_PROXY_PROTOCOL" in run.stdout.splitlines(), run.stdout


def test_a_boolean_variable_of_another_word_is_still_refused(tmp_path):
    run = check_config(tmp_path, PREFORK_PROXY_PROTOCOL=" maybe ")
    assert run.returncode == 2 and "env:PREFORK_PROXY_PROTOCOL: expected true or false, got ' maybe '" in run.stderr, run


def test_a_choice_variable_takes_surrounding_spaces(tmp_path):
    run = check_config(tmp_path, PREFORK_LOG_LEVEL=" debug ")
    assert run.returncode == 0, run
    assert 'log_level = "debug"  # env:PREFORK_LOG_LEVEL' in run.stdout.splitlines(), run.stdout


@pytest.mark.parametrize("text", ["workers = 1\n[extra]\nlog_level = info\n", "[server]\nhost = 0.0.0.0\n"],
                         ids=["a-setting", "another-servers-key"])
def test_a_bare_value_inside_a_table_gets_no_setting_advice(tmp_path, text):
    line = refusal(tmp_path, text)
    assert "quotes" not in line and "uvicorn" not in line, line
