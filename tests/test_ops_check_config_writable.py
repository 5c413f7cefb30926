"""A log file or pidfile where the daemon cannot write: a directory on a read-only file
system (systemd's ``ProtectSystem=strict`` without ``LogsDirectory=``, a read-only
container root). A start refused it (exit status 2, ``cannot open: read-only file
system``) but ``check-config`` passed it with status 0, though its help says it checks
the log and pidfile destinations: a deploy's ``ExecStartPre=prefork check-config`` let
through a configuration the daemon would not start on. check-config now says what the
start says; a writable destination stays valid.

Each run is in a mount namespace of its own (``unshare --mount``) with a read-only
tmpfs over a directory of the test's: nothing is mounted on the test machine itself."""

import subprocess
import sys

import pytest

from daemon import python_env


def in_read_only(tmp_path, args):
    """``prefork ARGS`` run where ``tmp_path/ro`` is a read-only file system: (status, stderr lines)."""
    (tmp_path / "ro").mkdir(exist_ok=True)
    script = 'mount -t tmpfs -o ro,size=64k none "$0" && exec "$@"'
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script, str(tmp_path / "ro"), sys.executable, "-m",
                           "prefork", *args, "--workers", "1", "--bind", "127.0.0.1:0", "--metrics-bind",
                           "127.0.0.1:0"], capture_output=True, text=True, timeout=30, env=python_env(),
                          cwd=tmp_path, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stderr.splitlines()


@pytest.mark.parametrize("flag, problem", [
    ("--error-log", "cannot open: read-only file system"),
    ("--access-log", "cannot open: read-only file system"),
    ("--pidfile", "cannot write: read-only file system"),
])
@pytest.mark.parametrize("command", [["check-config"], []], ids=["check-config", "start"])
def test_a_destination_on_a_read_only_file_system_is_refused_by_check_config_as_by_a_start(
        tmp_path, flag, problem, command):
    path = tmp_path / "ro" / "prefork.out"
    status, lines = in_read_only(tmp_path, [*command, flag, str(path)])
    assert status == 2, lines
    assert f"argv:{flag}: {path}: {problem}" in lines, lines
    assert not any("Traceback" in line for line in lines), lines


def test_a_writable_destination_beside_it_stays_valid(tmp_path):
    status, lines = in_read_only(tmp_path, ["check-config", "--error-log", str(tmp_path / "e.log"),
                                            "--access-log", str(tmp_path / "a.log"), "--pidfile",
                                            str(tmp_path / "p.pid")])
    assert status == 0, lines
    assert not (tmp_path / "e.log").exists() and not (tmp_path / "p.pid").exists()
