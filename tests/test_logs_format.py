"""The access log's format, as the daemon reads it from its configuration file: a
format whose lines cannot be written is a FILE:KEY error (exit 2) at start, never a
daemon that fails on every response."""

import subprocess
import sys

import pytest

from daemon import ROOT, children, kill_all, python_env, wait_until


@pytest.mark.parametrize("fmt,field", [("{s:{b}}", "{s:{b}}"), ("{D:>{s}}", "{D:>{s}}"),
                                       ("{h} {L:.{p}f}", "{L:.{p}f}")])
def test_a_field_inside_a_format_spec_is_a_configuration_error(tmp_path, fmt, field):
    config = tmp_path / "prefork.toml"
    config.write_text(f'access_log_format = "{fmt}"\naccess_log = "{tmp_path / "access.log"}"\n'
                      f'bind = ["127.0.0.1:0"]\nworkers = 1\nmetrics_bind = ""\n')
    errors = tmp_path / "stderr"
    with open(errors, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "prefork", "-c", str(config), "apps.basic:setup"],
                                cwd=ROOT, env=python_env(), stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        # a daemon that starts runs until stopped: its "workers ready" ends the wait
        wait_until(lambda: proc.poll() is not None or "workers ready" in errors.read_text(), 20,
                   what="the daemon's exit")
        text = errors.read_text()
        assert proc.poll() == 2, text
        assert text.splitlines() == [f"{config}:access_log_format: a field inside a format spec ({field}) is not "
                                     f"read: write the width or precision itself"], text
    finally:
        kill_all(proc, {proc.pid, *children(proc.pid)})
