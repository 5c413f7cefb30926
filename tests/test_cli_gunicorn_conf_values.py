"""A gunicorn user's values carried over as they were written are answered in prefork's
terms, never with advice that would set something else: a gunicorn.conf.py's Python
``True``/``False``/``None`` (not quoted into a string: ``pidfile = "None"`` would name a
pidfile ``None``), a boolean written in quotes (``reload = "true"``, whose refusal
"expected true or false, got 'true'" said nothing), gunicorn 27's ``proxy_protocol =
"v2"`` (both versions are read here), and gunicorn's short flags with their value
attached (``-kgevent``, ``-eFOO=bar``, as gunicorn's argparse takes them). Each is
refused with exit status 2 and nothing bound."""

import signal
import subprocess
import sys

import pytest

from daemon import Daemon, python_env


def prefork(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args, "--metrics-bind", "",
                           "--bind", f"unix:{tmp_path}/sock"], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path, env=python_env(**(env or {})), stdin=subprocess.DEVNULL)


def file_refusal(tmp_path, text):
    config = tmp_path / "prefork.toml"
    config.write_text(text)
    proc = prefork(tmp_path, "--config", str(config))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert not (tmp_path / "sock").exists()
    return line.removeprefix(f"{config}")


@pytest.mark.parametrize("text, says", [
    ("reload = True\n", "(TOML writes true and false in lower case: reload = true)"),
    ("workers = 2\r\nproxy_protocol = False  # off\r\n",
     "(TOML writes true and false in lower case: proxy_protocol = false)"),
    ("access_log = False\n", "(TOML writes true and false in lower case: access_log = false)"),
    ("pidfile = None\n", '(TOML has no None: leave the line out, or write pidfile = "": both are none, the default)'),
    ("accesslog = 1\naccess_log = None\n",
     '(TOML has no None: write access_log = "" for none, or leave the line out for the default)'),
    ("workers = None\n", "(TOML has no None: leave the line out for the default)"),
    # "" is no error log (stderr, as "-") nor an empty access log line: the default is named
    ("error_log = None\n", "(TOML has no None: leave the line out for the default)"),
    ("access_log_format = None\n", "(TOML has no None: leave the line out for the default)"),
    # gunicorn's own names: ours named, their None never quoted into a string
    ("accesslog = None\n", "(accesslog is gunicorn's: use access_log here ('-' means stderr here, gunicorn's "
                           "means stdout: write /dev/stdout for stdout)) (TOML has no None)"),
    ("errorlog = None\n", "(errorlog is gunicorn's: use error_log here) (TOML has no None)"),
    ("accesslog = False\n", "(accesslog is gunicorn's: use access_log here ('-' means stderr here, gunicorn's "
                            "means stdout: write /dev/stdout for stdout))"),
])
def test_python_true_false_and_none_are_answered_in_toml_terms(tmp_path, text, says):
    line = file_refusal(tmp_path, text)
    assert line.startswith(": not valid TOML: Invalid value"), line
    assert line.endswith(" " + says), line
    assert '"None"' not in line


@pytest.mark.parametrize("text", ["workers = True\n", "[server]\nreload = True\n"])
def test_a_python_literal_the_setting_would_refuse_anyway_gets_no_advice(tmp_path, text):
    line = file_refusal(tmp_path, text)
    assert line.startswith(": not valid TOML: Invalid value") and line.endswith(")"), line
    assert "lower case" not in line and "(a string" not in line


@pytest.mark.parametrize("text, says", [
    ('reload = "true"\n', ":reload: expected true or false, got 'true' (a TOML boolean is written without quotes: "
                          "reload = true)"),
    ('ws_per_message_deflate = " Off"\n', ":ws_per_message_deflate: expected true or false, got ' Off' (a TOML "
                                          "boolean is written without quotes: ws_per_message_deflate = false)"),
    ('proxy_protocol = "v2"\n', ":proxy_protocol: expected true or false, got 'v2' (gunicorn's v2: both versions "
                                "are read here: write true)"),
    ('proxy_protocol = "auto"\n', ":proxy_protocol: expected true or false, got 'auto' (gunicorn's auto: both "
                                  "versions are read here: write true)"),
])
def test_a_boolean_written_as_text_says_what_to_write(tmp_path, text, says):
    assert file_refusal(tmp_path, text) == says


def test_gunicorns_proxy_protocol_mode_in_a_variable_says_what_to_write(tmp_path):
    proc = prefork(tmp_path, env={"PREFORK_PROXY_PROTOCOL": "V1"})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["env:PREFORK_PROXY_PROTOCOL: expected true or false, got 'V1' (gunicorn's v1: "
                                        "both versions are read here: write true)"]


@pytest.mark.parametrize("args, hint", [
    (["-kgevent"], "  -k is gunicorn's: prefork has no worker classes: it recognises WSGI and ASGI apps by themselves "
                   "(interface), and threads gives a WSGI app a thread pool"),
    (["-eFOO=bar"], "  -e is gunicorn's: set the variables in prefork's own environment; settings are PREFORK_<NAME> "
                    "variables"),
])
def test_a_gunicorn_short_flag_with_its_value_attached_gets_its_hint(tmp_path, args, hint):
    proc = prefork(tmp_path, *args, "main:app")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"prefork: error: unrecognized arguments: {args[0]}", hint,
                                        "Run 'prefork --help' for every option."], proc.stderr
    assert not (tmp_path / "sock").exists()


def test_gunicorn_cmd_args_with_attached_short_values_are_not_offered_as_prefork_flags(tmp_path):
    proc = prefork(tmp_path, "check-config", "apps.asgi_apps", env={"GUNICORN_CMD_ARGS": "-kgevent -w4 -eA=1"})
    assert proc.returncode == 0, proc.stderr
    (warning,) = [line for line in proc.stderr.splitlines() if "GUNICORN_CMD_ARGS" in line]
    assert warning.startswith("warning: env:GUNICORN_CMD_ARGS: gunicorn's, ignored: give prefork the flags (-w4), "
                              "or PREFORK_<NAME> variables; -k is gunicorn's"), warning
    assert "; -e is gunicorn's" in warning


def test_gunicorns_config_dev_null_reads_no_settings_and_serves(tmp_path):
    proc = prefork(tmp_path, "check-config", "apps.asgi_apps", "--config", "/dev/null")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "# effective settings (config file: /dev/null)"
    daemon = Daemon("--config", "/dev/null", workers=1)
    try:
        daemon.wait_ready()
        assert daemon.request().startswith(b"HTTP/1.1 200 OK")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.cleanup()


@pytest.mark.parametrize("path, says", [
    ("/dev/zero", "/dev/zero: not a regular file (a FIFO or a device): give the configuration's file"),
    ("python:gunicorn_conf", "python:gunicorn_conf: no such file (gunicorn's python:MODULE: prefork reads a TOML "
                             "file, see docs/gunicorn.md)"),
])
def test_a_config_that_is_another_device_or_gunicorns_python_module_is_refused(tmp_path, path, says):
    proc = prefork(tmp_path, "--config", path, "apps.asgi_apps")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [says]
    assert not (tmp_path / "sock").exists()


@pytest.mark.parametrize("address", ["0.0.0.0:8000 ", " 127.0.0.1:8000", "127.0.0.1:8000\t", " fd://3"])
def test_a_bind_address_with_white_space_around_it_says_so(tmp_path, address):
    proc = subprocess.run([sys.executable, "-m", "prefork", "apps.asgi_apps", "--metrics-bind", "", "-b", address],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path, env=python_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"argv:--bind: {address!r}: white space around the address: write "
                                        f"{address.strip()!r}"]
