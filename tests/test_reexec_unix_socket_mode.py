"""A USR2 whose configuration changes ``unix_socket_mode`` gives the UNIX socket file it
keeps (the same socket, the same file) the new mode, as a restart would. Real daemon,
real signals; every process is killed by PID at the end, the socket file removed."""

import os
import re
import signal
import subprocess
import sys

from daemon import children, kill_all, python_env, wait_until


def test_usr2_gives_the_kept_socket_file_the_new_mode(tmp_path):
    path = str(tmp_path / "app.sock")
    config = tmp_path / "prefork.toml"
    text = 'bind = ["unix:{}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\nunix_socket_mode = "{}"\n'
    config.write_text(text.format(path, "0o666"))
    log_path = tmp_path / "error.log"
    seen = set()
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.basic:setup", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=python_env(),
                                cwd=tmp_path)

    def log():
        return log_path.read_text()

    def wait_log(pattern, count=1):
        wait_until(lambda: len(re.findall(pattern, log())) >= count, 20, what=lambda: f"{pattern!r} in\n{log()}")

    try:
        wait_log(r"workers ready")
        seen.update(children(proc.pid))
        before = os.stat(path)
        assert before.st_mode & 0o777 == 0o666
        config.write_text(text.format(path, "0o660"))
        proc.send_signal(signal.SIGUSR2)
        wait_log(r"workers ready", count=2)
        seen.update(children(proc.pid))
        after = os.stat(path)
        assert after.st_ino == before.st_ino  # the socket kept, not bound again
        assert after.st_mode & 0o777 == 0o660
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not os.path.exists(path)
    finally:
        seen.update(children(proc.pid))
        kill_all(proc, seen)
