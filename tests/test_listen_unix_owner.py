"""A UNIX socket file of ``bind``, made by a master started as root with ``user`` and
``group``, belongs to them (as gunicorn's does): with ``unix_socket_mode = 0o660`` a
client of that group connects, and root's group is not the one let in. Real daemon,
real sockets; every process is killed by PID at the end, the socket file removed."""

import grp
import os
import pwd
import signal
import socket

import pytest

from daemon import Daemon, scratch_dir, wait_until

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to start workers as another user")


def connects_as(path, uid, gid):
    """Whether a process of ``uid``/``gid`` (no other group) can connect to ``path``."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 2
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(5)
            try:
                sock.connect(path)
                code = 0
            except PermissionError:
                code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("with_group", [True, False])
def test_the_socket_file_belongs_to_user_and_group(with_group):
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    directory = scratch_dir("prefork-unix-owner-")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "app.sock")
    args = ["--bind", f"unix:{path}", "--unix-socket-mode", "0o660", "--user", "nobody"]
    if with_group:
        args += ["--group", group]
    d = Daemon(*args, workers=1, bind_socket=False)
    try:
        d.wait_ready(timeout=15)
        info = os.stat(path)
        assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        assert info.st_mode & 0o777 == 0o660
        assert connects_as(path, nobody.pw_uid, nobody.pw_gid) == 0
        d.signal(signal.SIGTERM)
        assert d.wait_exit(20) == 0
        wait_until(lambda: not os.path.exists(path), 5, what="the socket file removed")
    finally:
        d.cleanup()
