"""``user`` and ``group`` written in the config file as TOML integers, as a
gunicorn.conf.py writes them (``user = 1000``), are the uid and gid, as their digits
given as a flag are: the daemon starts and its workers run as that account, where the
file was refused ("expected a string")."""

import os
import socket

from daemon import ConfigDaemon, wait_until
from harness import read_until_close


def status_ids(pid):
    with open(f"/proc/{pid}/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return int(fields["Uid"].split()[1]), int(fields["Gid"].split()[1])


def test_a_numeric_user_and_group_in_the_file_are_the_ids(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    config = tmp_path / "prefork.toml"
    config.write_text(f'user = {os.getuid()}\ngroup = {os.getgid()}\nworkers = 1\nbind = ["127.0.0.1:{port}"]\n'
                      f'metrics_bind = ""\naccess_log = ""\n')
    with ConfigDaemon(tmp_path, config) as daemon:
        daemon.wait_log("workers ready")
        (worker,) = wait_until(daemon.note_workers, 10, what="the worker")
        assert status_ids(worker) == (os.getuid(), os.getgid())
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).startswith(b"HTTP/1.1 200 ")
        sock.close()
        assert "expected a string" not in daemon.log()
