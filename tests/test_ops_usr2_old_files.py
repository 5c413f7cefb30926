"""A USR2 whose new configuration moves the pidfile or a UNIX listen socket: once the
new master has written its pidfile and opened its sockets, the previous program's
pidfile and socket files are removed, as nginx and gunicorn leave no stale ones; a file
some other process has put at the old path since is left alone."""

import os
import signal
import socket

from daemon import wait_until
from harness import read_until_close


def unix_request(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(5)
    try:
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


def start(daemons, tmp_path, name):
    config = tmp_path / "prefork.toml"
    config.write_text(f'bind = ["unix:{tmp_path}/{name}.sock"]\npidfile = "{tmp_path}/{name}.pid"\n')
    d = daemons("--config", str(config), workers=1, bind_socket=False)
    d.wait_ready()
    assert (tmp_path / f"{name}.pid").read_text().strip() == str(d.pid)
    return d, config


def reexec(d, config, tmp_path, name):
    config.write_text(f'bind = ["unix:{tmp_path}/{name}.sock"]\npidfile = "{tmp_path}/{name}.pid"\n')
    d.signal(signal.SIGUSR2)
    d.wait_log(r"workers ready", timeout=30, count=2)
    assert d.proc.poll() is None, d.log()


def test_usr2_removes_the_old_pidfile_and_socket_file(daemons, tmp_path):
    d, config = start(daemons, tmp_path, "a")
    reexec(d, config, tmp_path, "b")
    assert (tmp_path / "b.pid").read_text().strip() == str(d.pid)
    assert unix_request(str(tmp_path / "b.sock")).startswith(b"HTTP/1.1 200 OK")
    wait_until(lambda: not (tmp_path / "a.pid").exists() and not (tmp_path / "a.sock").exists(), 10,
               what=lambda: f"the old files gone: {sorted(os.listdir(tmp_path))}\n{d.log()}")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(20) == 0
    assert not (tmp_path / "b.pid").exists() and not (tmp_path / "b.sock").exists()


def test_usr2_keeps_old_paths_another_process_took(daemons, tmp_path):
    d, config = start(daemons, tmp_path, "a")
    # meanwhile, another program took both old paths: its own pidfile, its own socket
    os.unlink(tmp_path / "a.pid")
    (tmp_path / "a.pid").write_text("1\n")
    os.unlink(tmp_path / "a.sock")
    other = socket.socket(socket.AF_UNIX)
    try:
        other.bind(str(tmp_path / "a.sock"))
        other.listen(1)
        reexec(d, config, tmp_path, "b")
        assert (tmp_path / "b.pid").read_text().strip() == str(d.pid)
        assert unix_request(str(tmp_path / "b.sock")).startswith(b"HTTP/1.1 200 OK")
        d.signal(signal.SIGTERM)
        assert d.wait_exit(20) == 0
        assert (tmp_path / "a.pid").read_text() == "1\n"
        assert (tmp_path / "a.sock").exists()
    finally:
        other.close()


def test_usr2_with_the_same_files_keeps_them(daemons, tmp_path):
    d, config = start(daemons, tmp_path, "a")
    reexec(d, config, tmp_path, "a")
    assert (tmp_path / "a.pid").read_text().strip() == str(d.pid)
    assert unix_request(str(tmp_path / "a.sock")).startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(20) == 0
