"""A USR2 whose configuration changes ``unix_socket_mode`` gives the UNIX socket file it
keeps (the same socket, the same file) the new mode, as a restart would. Real daemon,
real signals; every process is killed by PID at the end, the socket file removed."""

import os
import signal

from daemon import ConfigDaemon


def test_usr2_gives_the_kept_socket_file_the_new_mode(tmp_path):
    path = str(tmp_path / "app.sock")
    config = tmp_path / "prefork.toml"
    text = 'bind = ["unix:{}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\nunix_socket_mode = "{}"\n'
    config.write_text(text.format(path, "0o666"))
    with ConfigDaemon(tmp_path, config) as d:
        d.wait_log(r"workers ready")
        d.note_workers()
        before = os.stat(path)
        assert before.st_mode & 0o777 == 0o666
        config.write_text(text.format(path, "0o660"))
        d.proc.send_signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2)
        d.note_workers()
        after = os.stat(path)
        assert after.st_ino == before.st_ino  # the socket kept, not bound again
        assert after.st_mode & 0o777 == 0o660
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(20) == 0
        assert not os.path.exists(path)
