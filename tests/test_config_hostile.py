"""Binding and configuration with hostile or unusual inputs, each a clear
``SOURCE:KEY: what is wrong`` and exit status 2 (never a traceback, a hang, or another
program's socket file deleted), and nothing left behind by a start that failed."""

import os
import socket
import subprocess
import sys
import time

import pytest

from daemon import python_env

APP = "apps.basic:setup"
TESTS = os.path.dirname(os.path.abspath(__file__))


def prefork(*args, cwd, env=None, pass_fds=(), timeout=30):
    full = python_env()
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=full, stdin=subprocess.DEVNULL, pass_fds=pass_fds)


def test_a_live_datagram_socket_is_not_taken_for_a_stale_one(tmp_path):
    path = tmp_path / "dg.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    live.bind(str(path))
    try:
        out = prefork("-b", f"unix:{path}", "--metrics-bind", "", "-w", "1", APP, cwd=TESTS)
        assert out.returncode == 2, out.stderr
        assert "a running server listens on this socket" in out.stderr, out.stderr
        assert path.exists()  # the other program's socket is still there
    finally:
        live.close()


def test_a_unix_socket_file_is_removed_when_a_later_address_fails(tmp_path):
    path = tmp_path / "first.sock"
    busy = socket.create_server(("127.0.0.1", 0))
    try:
        out = prefork("-b", f"unix:{path}", "-b", f"127.0.0.1:{busy.getsockname()[1]}", "--metrics-bind", "",
                      "-w", "1", APP, cwd=TESTS)
    finally:
        busy.close()
    assert out.returncode == 2 and "address already in use" in out.stderr, out.stderr
    assert not path.exists()


def test_one_inherited_socket_named_twice_is_refused(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    fd = listener.fileno()
    try:
        out = prefork("-b", f"fd://{fd}", "-b", f"fd://0{fd}", "--metrics-bind", "", "-w", "1", APP, cwd=TESTS,
                      pass_fds=(fd,))
    finally:
        listener.close()
    assert out.returncode == 2, out.stderr
    assert f"fd://0{fd}: the same socket as fd://{fd}, also in this list" in out.stderr, out.stderr


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
@pytest.mark.parametrize("args, says", [
    (["--access-log-format", "{h:>99999999999}"], "argv:--access-log-format: a format spec makes lines of more than"),
    (["--access-log-format", "{h:>200000000}"], "argv:--access-log-format: a format spec makes lines of more than"),
    (["--metrics-bind", "https://127.0.0.1:0"], "argv:--metrics-bind: the operations endpoints speak plain HTTP"),
    (["-w", "\u0663"], "workers: expected an integer"),
    (["-b", "127.0.0.1:\u0668\u0660\u0660\u0660"], "bind: 127.0.0.1:\u0668\u0660\u0660\u0660: expected HOST:PORT"),
], ids=["format-memory", "format-huge", "metrics-https", "unicode-digit", "unicode-port"])
def test_bad_values_that_were_tracebacks_or_silently_wrong(tmp_path, args, says, command):
    out = prefork(*command, *args, APP, cwd=TESTS)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert says in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_config_nested_too_deeply_is_a_config_error(tmp_path, command):
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    out = prefork(*command, "-c", str(config), APP, cwd=TESTS)
    assert out.returncode == 2, out.stderr
    assert f"{config}: not valid TOML" in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_fifo_as_the_config_or_a_log_does_not_hang(tmp_path, command):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    out = prefork(*command, "-c", str(fifo), APP, cwd=TESTS, timeout=20)
    assert out.returncode == 2 and f"{fifo}: not a regular file" in out.stderr, out.stderr
    out = prefork(*command, "--access-log", str(fifo), "--metrics-bind", "", APP, cwd=TESTS, timeout=20)
    assert out.returncode == 2 and f"argv:--access-log: {fifo}: a FIFO with no reader" in out.stderr, out.stderr
    assert time.monotonic() - started < 15


def test_listen_fds_counting_more_than_were_passed_is_a_clear_error(tmp_path):
    code = ("import os, sys, runpy; os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '50'; "
            "sys.argv = ['prefork', '--metrics-bind', '', '-w', '1', sys.argv[1]]; "
            "runpy.run_module('prefork', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code, APP], capture_output=True, text=True, timeout=30, cwd=TESTS,
                         env=python_env(), stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stderr
    assert "is not open (LISTEN_FDS counts more descriptors than were passed)" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_a_boot_failure_at_start_is_said_on_stderr_when_the_error_log_is_a_file(tmp_path):
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('the database is down')\n")
    error_log = tmp_path / "error.log"
    out = prefork("--error-log", str(error_log), "--metrics-bind", "", "-b", "127.0.0.1:0", "-w", "1",
                  "--app-dir", str(tmp_path), "broken_app:app", cwd=TESTS)
    assert out.returncode == 3, out.stderr
    assert "failed to boot" in out.stderr and "the database is down" in out.stderr, out.stderr
    assert out.stderr.count("failed to boot") == 1
    assert "failed to boot" in error_log.read_text()
