"""What the command line says of a value it refuses, as the operator typed it: two apps
given at once (``--app X`` and a positional ``Y``, which used to serve whichever argparse
kept), a bind address with no port or with a URL's path, a number that overflows to
infinity, and gunicorn's and uvicorn's shared flags named as both servers'.

Real ``python -m prefork`` processes: their exit status and stderr; a daemon that starts
is stopped by its PID (TERM, then KILL)."""

import signal
import subprocess
import sys

import pytest

from daemon import python_env, scratch_dir

FORMS = "expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"


def prefork(*args):
    """The exit status (None: it kept running, and was stopped) and stderr of ``prefork ARGS``."""
    proc = subprocess.Popen([sys.executable, "-m", "prefork", *args], cwd=scratch_dir("prefork-argv-messages-"),
                            env=python_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        return None, err
    return proc.returncode, err


@pytest.mark.parametrize("args", [
    ["--app", "apps.basic:setup", "apps.hello:setup"],
    ["apps.hello:setup", "--app=apps.basic:setup"],
], ids=["flag-first", "positional-first"])
def test_an_app_flag_and_a_different_app_argument_are_refused_naming_both(args):
    status, err = prefork(*args, "--workers", "1", "-b", "127.0.0.1:0", "--metrics-bind", "")
    assert status == 2, err
    assert err.splitlines() == ["argv:--app: two apps on the command line, --app apps.basic:setup and APP "
                                "apps.hello:setup: give one"], err


def test_check_config_refuses_two_apps_on_the_command_line_too():
    status, err = prefork("check-config", "--app", "apps.basic:setup", "apps.hello:setup")
    assert status == 2, err
    assert "argv:--app: two apps on the command line, --app apps.basic:setup and APP apps.hello:setup" in err


def test_the_same_app_given_by_flag_and_argument_is_no_conflict():
    status, err = prefork("check-config", "--app", "apps.basic:setup", "apps.basic:setup")
    assert status == 0, err


def test_an_app_argument_still_overrides_the_files_app(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('app = "apps.hello:setup"\n')
    status, err = prefork("check-config", "-c", str(config), "apps.basic:setup")
    assert status == 0, err


@pytest.mark.parametrize("typed, hint", [
    ("[::1]", "(no port: write [::1]:8000)"),
    ("[::1]:", "(no port: write [::1]:8000)"),
    ("127.0.0.1:", "(no port: write 127.0.0.1:8000)"),
    ("http://[::1]", "(no port: write http://[::1]:8000)"),
])
def test_a_bind_without_a_port_is_refused_with_the_address_to_write(typed, hint):
    status, err = prefork("apps.basic:setup", "--workers", "1", "-b", typed, "--metrics-bind", "")
    assert status == 2, err
    assert err.splitlines() == [f"argv:--bind: {typed}: {FORMS} {hint}"], err


@pytest.mark.parametrize("typed, hint", [
    ("http://127.0.0.1:0/", "(a bind takes no path: write http://127.0.0.1:0, without the trailing /)"),
    ("127.0.0.1:0/app", "(a bind takes no path: write 127.0.0.1:0, without /app)"),
    ("https://localhost/", "(a bind takes no path, and needs a port: write https://localhost:8000)"),
])
def test_a_bind_with_a_path_is_quoted_as_typed_and_the_path_pointed_at(typed, hint):
    status, err = prefork("check-config", "-b", typed)
    assert status == 2, err
    assert err.splitlines() == [f"argv:--bind: {typed}: {FORMS} {hint}"], err


def test_a_metrics_bind_with_a_path_is_quoted_as_typed():
    status, err = prefork("check-config", "--metrics-bind", "http://127.0.0.1:0/")
    assert status == 2, err
    assert ("argv:--metrics-bind: http://127.0.0.1:0/: expected HOST:PORT, [V6]:PORT or fd://N (a bind takes "
            "no path: write http://127.0.0.1:0, without the trailing /)") in err.splitlines(), err


@pytest.mark.parametrize("args, line", [
    (["--timeout", "1e400"], "argv:--timeout: expected a finite number, got 1e400"),
    (["--graceful-timeout=-1e400"], "argv:--graceful-timeout: expected a finite number, got -1e400"),
    (["--metrics-buckets", "0.1,1e400"], "argv:--metrics-buckets: every bound must be a positive finite number, "
                                         "got 1e400"),
])
def test_a_number_that_overflows_is_quoted_as_given(args, line):
    status, err = prefork("apps.basic:setup", "--workers", "1", "-b", "127.0.0.1:0", *args)
    assert status == 2, err
    assert line in err.splitlines(), err


def test_an_overflowing_environment_value_is_quoted_as_given():
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config"], env=python_env(PREFORK_TIMEOUT="1e400"),
                          cwd=scratch_dir("prefork-argv-messages-"), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=15)
    assert proc.returncode == 2, proc.stderr
    assert "env:PREFORK_TIMEOUT: expected a finite number, got 1e400" in proc.stderr.splitlines(), proc.stderr


@pytest.mark.parametrize("flag, line", [
    ("--ssl-version", "--ssl-version is gunicorn's and uvicorn's: use --tls-min-version here"),
    ("--log-config", "--log-config is gunicorn's and uvicorn's: prefork's logging is set by log_level, error_log "
                     "and access_log"),
])
def test_a_flag_both_servers_have_is_named_as_both_servers(flag, line):
    status, err = prefork("apps.basic:setup", flag, "17")
    assert status == 2, err
    assert f"  {line}" in err.splitlines(), err


def test_a_file_key_both_servers_have_is_named_as_both_servers(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('ssl_version = 2\n')
    status, err = prefork("check-config", "-c", str(config))
    assert status == 2, err
    assert (f"{config}:ssl_version: unknown setting (ssl_version is gunicorn's and uvicorn's: use tls_min_version "
            "here)") in err.splitlines(), err
