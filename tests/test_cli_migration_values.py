"""What a gunicorn or uvicorn user brings along is answered with what to write here:
uvicorn's --host/--port/--uds/--fd with the --bind of their values, the off form of a
gunicorn switch (--no-preload) as the switch itself (not as a near miss of another
flag), old switches (--debug, --logfile), gunicorn's ``warn`` level, and the flags in
GUNICORN_CMD_ARGS (ignored) each with what to give prefork."""

import subprocess
import sys

import pytest

from daemon import python_env


def prefork(*args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=60,
                          env=python_env(**(env or {})), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args, line", [
    (["--host", "0.0.0.0", "--port", "9000"], "  --host 0.0.0.0 --port 9000 are uvicorn's: write --bind 0.0.0.0:9000 here"),
    (["--port=9000"], "  --port 9000 is uvicorn's: write --bind 127.0.0.1:9000 here"),
    (["--host", "::"], "  --host :: is uvicorn's: write --bind [::]:8000 here"),
    (["--uds", "/run/a.sock"], "  --uds /run/a.sock is uvicorn's: write --bind unix:/run/a.sock here"),
    (["--fd", "3"], "  --fd 3 is uvicorn's: write --bind fd://3 here"),
    (["--no-preload"], "  --no-preload is gunicorn's: the master never imports the app: each worker imports it"),
    (["--logfile", "e.log"], "  --logfile e.log is gunicorn's: write --error-log e.log here (gunicorn's --log-file)"),
    (["--debug"], "  --debug is gunicorn's: an old switch of gunicorn and uvicorn: set log_level to debug here (and "
                  "reload, to reload on code changes)"),
])
def test_a_flag_of_another_server_is_answered_with_what_to_write(args, line):
    proc = prefork(*args, "main:app")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[1:] == [line, "Run 'prefork --help' for every option."], lines


def test_a_flag_whose_value_is_missing_gets_the_general_hint():
    proc = prefork("--fd", "main:app")  # (argparse took main:app for the app)
    assert proc.stderr.splitlines()[1] == "  --fd is uvicorn's: use --bind here (as fd://N)", proc.stderr


def test_gunicorns_warn_level_is_refused_with_the_word_to_write():
    proc = prefork("check-config", "--log-level", "warn")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["argv:--log-level: expected one of debug, info, warning, error, critical, got "
                                        "'warn' (write warning)"]


def test_gunicorn_cmd_args_is_ignored_naming_each_flag_to_give_prefork():
    proc = prefork("check-config", env={"GUNICORN_CMD_ARGS": "--bind=0.0.0.0:80 --workers 3 -k "
                                                             "uvicorn.workers.UvicornWorker --access-logfile - --preload"})
    assert proc.returncode == 0, proc.stderr
    warning = proc.stderr.splitlines()[0]
    assert warning.startswith("warning: env:GUNICORN_CMD_ARGS: gunicorn's, ignored: give prefork the flags "
                              "(--bind=0.0.0.0:80 --workers 3), or PREFORK_<NAME> variables; -k is gunicorn's: "
                              "prefork has no worker classes"), warning
    assert "; --access-logfile - is gunicorn's: write --access-log /dev/stdout here" in warning, warning
    assert warning.endswith("; --preload is gunicorn's: the master never imports the app: each worker imports it")
    assert 'bind = ["127.0.0.1:8000"]  # default' in proc.stdout


@pytest.mark.parametrize("args, listed", [
    (["-k", "uvicorn.workers.UvicornWorker", "main:app"], "-k uvicorn.workers.UvicornWorker"),
    (["-k", "sync", "-t", "30", "main:app"], "-k sync -t 30"),
    (["--log-file", "e.log", "main:app"], "--log-file e.log"),
    (["--preload", "main:app"], "--preload"),
    (["main:app", "-k", "gevent"], "-k gevent"),
])
def test_the_refusal_lists_a_flags_value_with_it_and_not_the_app(args, listed):
    proc = prefork(*args)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == f"prefork: error: unrecognized arguments: {listed}", proc.stderr
