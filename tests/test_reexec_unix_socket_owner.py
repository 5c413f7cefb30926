"""A USR2 whose configuration no longer sets ``user`` (or ``group``) gives the UNIX socket
file it keeps back to the master's own user (or group), as a restart would make it: the
group the old configuration let in (``unix_socket_mode = 0o660``) is no longer let in.
Real daemon, real signals; every process is killed by PID at the end."""

import grp
import os
import pwd
import signal

import pytest

from daemon import ConfigDaemon

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the socket file to another user")


@pytest.mark.parametrize("group_after", ["", "daemon"])
def test_usr2_without_user_or_group_gives_the_kept_socket_file_back_to_the_master(tmp_path, group_after):
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    os.chmod(tmp_path, 0o755)
    path = str(tmp_path / "app.sock")
    config = tmp_path / "prefork.toml"
    common = f'bind = ["unix:{path}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\nunix_socket_mode = "0o660"\n'
    config.write_text(common + f'user = "nobody"\ngroup = "{group}"\n')
    with ConfigDaemon(tmp_path, config) as d:
        d.wait_log(r"workers ready")
        d.note_workers()
        before = os.stat(path)
        assert (before.st_uid, before.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        config.write_text(common + (f'group = "{group_after}"\n' if group_after else ""))
        d.proc.send_signal(signal.SIGUSR2)
        d.wait_log(r"workers ready|USR2 refused", count=2)
        assert "USR2 refused" not in d.log(), d.log()
        d.note_workers()
        after = os.stat(path)
        assert after.st_ino == before.st_ino  # the socket kept, not bound again
        wanted_gid = grp.getgrnam(group_after).gr_gid if group_after else os.getgid()
        assert (after.st_uid, after.st_gid) == (os.getuid(), wanted_gid)
        assert after.st_mode & 0o777 == 0o660
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(20) == 0


def test_a_socket_file_in_a_set_group_id_directory_keeps_its_group(tmp_path):
    """No ``user`` nor ``group``: the file keeps the group a set-group-ID directory gave
    it (a proxy's, given that way), at the start and after a USR2."""
    group = grp.getgrnam("daemon").gr_gid
    directory = tmp_path / "run"
    directory.mkdir()
    os.chown(directory, 0, group)
    os.chmod(directory, 0o2755)
    path = str(directory / "app.sock")
    config = tmp_path / "prefork.toml"
    config.write_text(f'bind = ["unix:{path}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\n'
                      'unix_socket_mode = "0o660"\n')
    with ConfigDaemon(tmp_path, config) as d:
        d.wait_log(r"workers ready")
        d.note_workers()
        assert os.stat(path).st_gid == group
        d.proc.send_signal(signal.SIGUSR2)
        d.wait_log(r"workers ready|USR2 refused", count=2)
        assert "USR2 refused" not in d.log(), d.log()
        d.note_workers()
        assert os.stat(path).st_gid == group
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(20) == 0
