"""A uvicorn flag given twice (``--port 8080 --port 9090``, as a wrapper script adding
its own to the user's does) is taken by uvicorn, and gunicorn, by its last value:
uvicorn then runs on 9090. The refusal's hint named the first value, so the --bind it
said to write listened elsewhere than the command it replaces. It names the last one.

Real ``prefork`` processes, each waited for."""

import subprocess
import sys

import pytest

from daemon import python_env


def prefork(*args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=60,
                          env=python_env(**(env or {})), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args, line", [
    (["--port=8080", "--port", "9090"], "  --port 9090 is uvicorn's: write --bind 127.0.0.1:9090 here"),
    (["--host", "0.0.0.0", "--port", "81", "--host", "127.0.0.2"],
     "  --host 127.0.0.2 --port 81 are uvicorn's: write --bind 127.0.0.2:81 here"),
    (["--uds", "/run/a.sock", "--uds=/run/b.sock"], "  --uds /run/b.sock is uvicorn's: write --bind unix:/run/b.sock here"),
])
def test_a_flag_given_twice_is_hinted_with_its_last_value_as_uvicorn_takes_it(args, line):
    proc = prefork(*args, "main:app")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[1:] == [line, "Run 'prefork --help' for every option."], proc.stderr


def test_gunicorn_cmd_args_with_a_flag_given_twice_is_hinted_with_its_last_value():
    proc = prefork("check-config", env={"GUNICORN_CMD_ARGS": "--workers 2 --host 0.0.0.0 --host 127.0.0.2"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0].endswith("; --host 127.0.0.2 is uvicorn's: write --bind 127.0.0.2:8000 here"), \
        proc.stderr
