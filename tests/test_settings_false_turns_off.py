"""``access_log = false`` and ``metrics_bind = false`` in the configuration file turn the
feature off, as their empty values do (uvicorn's ``access_log=False`` is how its users
write it); ``true`` is refused with what the setting takes, as ``FILE:KEY`` with exit
status 2 from the command line. A real daemon with ``access_log = false`` serves and
writes no access log line (and no file named ``false``)."""

import os
import signal
import subprocess
import sys

import pytest

from daemon import Daemon, python_env
from prefork import settings


def load(tmp_path, text):
    config = tmp_path / "prefork.toml"
    config.write_text(text)
    return config, settings.load(str(config), env={}, argv_values={})


def test_false_is_the_empty_value(tmp_path):
    _, loaded = load(tmp_path, "access_log = false\nmetrics_bind = false\n")
    assert loaded.access_log == ""
    assert loaded.metrics_bind == ""


@pytest.mark.parametrize("line, problem", [
    ("access_log = true", "access_log: expected a string (or false: off), got true"),
    ("pidfile = false", "pidfile: expected a string, got false"),  # (no off value: still refused)
])
def test_other_booleans_are_refused_with_what_the_setting_takes(tmp_path, line, problem):
    config = tmp_path / "prefork.toml"
    config.write_text(line + "\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config), "check-config"],
                          capture_output=True, text=True, timeout=60, env=python_env())
    assert proc.returncode == 2
    assert f"{config}:{problem}" in proc.stderr


def test_a_daemon_with_the_access_log_false_logs_no_request(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("access_log = false\n")
    daemon = Daemon("--config", str(config), workers=1, access_log=None)
    try:
        daemon.wait_ready()
        for _ in range(3):
            assert daemon.request("/").startswith(b"HTTP/1.1 200")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
        assert "GET / HTTP/1.1" not in daemon.log()
        assert not os.path.exists(os.path.join(daemon.tmp, "false"))
    finally:
        daemon.cleanup()
