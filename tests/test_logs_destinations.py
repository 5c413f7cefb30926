"""A log destination that is surely no path (uvicorn's habits) is refused with
``SOURCE:KEY: what is wrong`` and exit status 2, before anything is written: a switch
word (uvicorn's ``access_log`` is on/off) and an app spec (uvicorn's ``--access-log``
put before the app made the app the log's path and served the demo app). Real
``python -m prefork`` runs; nothing starts serving."""

import os
import signal
import subprocess
import sys

import pytest

from daemon import children, kill_all, python_env

TESTS = os.path.dirname(os.path.abspath(__file__))


def prefork(*args, cwd, env=None):
    """The finished run; one that is still running after 20 s (it took the value and
    serves) is killed by PID, its workers too, and fails the test."""
    full = python_env()
    full.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "prefork", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=full, stdin=subprocess.DEVNULL)
    try:
        proc.stdout_text, proc.stderr = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        workers = children(proc.pid)
        proc.send_signal(signal.SIGSTOP)  # (no new worker while they are killed)
        kill_all(proc, workers + children(proc.pid))
        proc.communicate()
        pytest.fail(f"prefork {' '.join(args)} took the value and ran")
    return proc


@pytest.mark.parametrize("value", ["false", "TRUE", "yes", "No", "on", "OFF", "1", "0"])
@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_switch_word_as_a_log_path_is_refused(tmp_path, value, command):
    out = prefork(*command, "--access-log", value, "--metrics-bind", "", "-b", "127.0.0.1:0", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"argv:--access-log: {value!r} is no log destination: access_log takes - (stderr) or a file's path, " \
           f"and an empty value turns it off" in out.stderr, out.stderr
    assert f"write ./{value}" in out.stderr
    out = prefork(*command, "--metrics-bind", "", "-b", "127.0.0.1:0", cwd=tmp_path,
                  env={"PREFORK_ERROR_LOG": value})
    assert out.returncode == 2 and f"env:PREFORK_ERROR_LOG: {value!r} is no log destination: error_log takes - " \
                                   f"(stderr) or a file's path" in out.stderr, out.stderr
    assert os.listdir(tmp_path) == []  # no file named after the word


@pytest.mark.parametrize("value", ["app:app", "main:create_app", "pkg.mod:application", "main:create_app()"])
def test_an_app_spec_as_the_access_log_is_refused_not_served_as_the_demo(tmp_path, value):
    out = prefork("--access-log", value, "-w", "1", "--metrics-bind", "", "-b", "127.0.0.1:0", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"argv:--access-log: {value!r} looks like an app (module:attribute), not a log file: " \
           f"access_log takes - (stderr) or a file's path" in out.stderr and "name the app after the options" \
           in out.stderr, out.stderr
    assert os.listdir(tmp_path) == []
    config = tmp_path / "prefork.toml"
    config.write_text(f'error_log = "{value}"\n')
    out = prefork("check-config", "-c", str(config), cwd=tmp_path)
    assert out.returncode == 2 and f"{config}:error_log: {value!r} looks like an app" in out.stderr, out.stderr


@pytest.mark.parametrize("value", ["./false", "logs:2026.log", "access.log:x", "/var/tmp/a:b", "main:app.log"])
def test_paths_that_only_resemble_them_are_taken(tmp_path, value):
    out = prefork("check-config", "--access-log", value, "--metrics-bind", "", cwd=TESTS)
    assert out.returncode == 0, out.stderr


def test_an_existing_file_named_like_an_app_is_taken(tmp_path):
    (tmp_path / "main:app").write_text("")
    out = prefork("check-config", "--access-log", "main:app", "--metrics-bind", "", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_uvicorns_access_log_variable_gets_a_hint_that_says_prefork_takes_a_path(tmp_path):
    out = prefork("check-config", "--metrics-bind", "", cwd=tmp_path, env={"UVICORN_ACCESS_LOG": "false"})
    assert out.returncode == 0, out.stderr
    assert "warning: env:UVICORN_ACCESS_LOG: uvicorn's, ignored: use PREFORK_ACCESS_LOG (uvicorn's access_log is " \
           "an on/off switch, prefork's is where the lines go: - (stderr) or a file's path; an empty value turns " \
           "it off)" in out.stderr, out.stderr


@pytest.mark.parametrize("value, why", [("/dev/fd/2147483648", "is not open"), ("/dev/fd/4096", "is not open")])
def test_a_descriptor_that_cannot_be_written_is_refused(tmp_path, value, why):
    out = prefork("check-config", "--access-log", value, "--metrics-bind", "", cwd=tmp_path)
    assert out.returncode == 2 and f"argv:--access-log: {value}: descriptor" in out.stderr and why in out.stderr, \
        out.stderr
    assert "Traceback" not in out.stderr


def test_a_descriptor_open_for_reading_only_is_refused(tmp_path):
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        full = python_env()
        proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--access-log", f"/dev/fd/{fd}",
                               "--metrics-bind", ""], capture_output=True, text=True, cwd=tmp_path, env=full,
                              pass_fds=(fd,), timeout=20)
    finally:
        os.close(fd)
    assert proc.returncode == 2 and f"descriptor {fd} is open for reading only" in proc.stderr, proc.stderr
