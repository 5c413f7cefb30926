"""Devices given where a file is expected. A null device (character device 1:3) at
another path than ``/dev/null`` (a chroot's or a container's own node) is a config
file that holds no settings, as ``-c /dev/null`` is; another device stays refused (it
could fill the memory). A pidfile is never written on a device: the null device is
told how to have none. A log on the terminal's device the daemon cannot open
(``/dev/tty`` with no controlling terminal, at whatever path) is refused by check-config
in the words the start refuses it; no other log device is opened by check-config."""

import os
import signal
import stat
import subprocess
import sys

import pytest

from daemon import python_env


def run(tmp_path, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=30,
                          env=python_env(), cwd=tmp_path, stdin=subprocess.DEVNULL, **kwargs)


def refused(tmp_path, *args, **kwargs):
    """check-config's problem lines, once it refused the settings (status 2)."""
    proc = run(tmp_path, "check-config", *args, **kwargs)
    assert proc.returncode == 2, proc.stdout
    return proc.stderr.splitlines()


def device(tmp_path, name, minor, major=1):
    path = tmp_path / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    return str(path)


def test_a_null_device_at_another_path_is_a_config_file_with_no_settings(tmp_path):
    null = device(tmp_path, "null", 3)
    proc = run(tmp_path, "check-config", "-c", null)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"# effective settings (config file: {null})", lines
    assert all(line.endswith("# default") for line in lines[1:]), lines


def test_another_device_stays_refused_as_a_config_file(tmp_path):
    zero = device(tmp_path, "zero", 5)
    assert refused(tmp_path, "-c", zero) == [f"{zero}: not a regular file (a FIFO or a device): give the "
                                             "configuration's file"]


@pytest.mark.parametrize("named", ["/dev/null", "node"])
def test_a_pidfile_on_the_null_device_says_how_to_have_none(tmp_path, named):
    path = device(tmp_path, "null", 3) if named == "node" else named
    assert refused(tmp_path, "--pidfile", path) == [f"argv:--pidfile: {path} is the null device, where no "
                                                    "pidfile is kept (for none, leave pidfile empty: the default)"]


@pytest.mark.parametrize("key", ["access-log", "error-log"])
def test_a_log_device_that_cannot_be_opened_is_refused_by_check_config_as_by_the_start(tmp_path, key):
    # (a new session has no controlling terminal: /dev/tty cannot be opened, ENXIO)
    checked = refused(tmp_path, f"--{key}", "/dev/tty", start_new_session=True)
    started = subprocess.Popen([sys.executable, "-m", "prefork", "apps.basic:setup", "-b", "127.0.0.1:0", "-w", "1",
                                f"--{key}", "/dev/tty"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=python_env(), cwd=tmp_path, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _, start_err = started.communicate(timeout=30)
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()
    said = f"argv:--{key}: /dev/tty: cannot open: no such device or address"
    assert started.returncode == 2 and start_err.splitlines()[-1] == said, start_err
    assert checked == [said]


def test_the_terminal_device_at_another_path_is_tried_as_dev_tty_is(tmp_path):
    tty = device(tmp_path, "tty", 0, major=5)  # (a chroot's /dev/tty)
    assert refused(tmp_path, "--error-log", tty, start_new_session=True) == [
        f"argv:--error-log: {tty}: cannot open: no such device or address"]


def test_no_other_log_device_is_opened_by_check_config(tmp_path):
    # opening a device may act (a watchdog arms, a tape rewinds): check-config opens none
    # but the terminal's. 240 is a major for local use, with no driver here: an open
    # would fail (ENXIO), so passing shows it was not opened.
    local = device(tmp_path, "local", 0, major=240)
    with pytest.raises(OSError):
        os.close(os.open(local, os.O_WRONLY | os.O_NONBLOCK))
    proc = run(tmp_path, "check-config", "--access-log", local, start_new_session=True)
    assert proc.returncode == 0, proc.stderr
    assert f'access_log = "{local}"  # argv:--access-log' in proc.stdout.splitlines(), proc.stdout


@pytest.mark.parametrize("path", ["/dev/stdout", "/dev/stderr", "/proc/self/fd/1", "/dev/null", "/dev/zero"])
def test_the_devices_users_log_to_are_taken(tmp_path, path):
    proc = run(tmp_path, "check-config", "--access-log", path, "--error-log", path, start_new_session=True)
    assert proc.returncode == 0, proc.stderr
    assert f'access_log = "{path}"  # argv:--access-log' in proc.stdout.splitlines(), proc.stdout
