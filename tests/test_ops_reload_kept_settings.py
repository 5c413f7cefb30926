"""A reload (HUP) keeps the settings it cannot change (``pidfile``, ``bind``...), so what
the host says of them now does not refuse it: the pidfile's directory or a UNIX
socket's directory cleaned away (a /tmp cleaner) leaves ``systemctl reload`` working.
A restart-only setting the file changes is still checked."""

import shutil
import signal
import socket

from daemon import wait_until


def request_unix(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(5)
    try:
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data
    finally:
        sock.close()


def test_a_reload_goes_ahead_when_the_pidfile_and_socket_directories_are_gone(daemons, tmp_path):
    run, sockets = tmp_path / "run", tmp_path / "sockets"
    run.mkdir()
    sockets.mkdir()
    config = tmp_path / "prefork.toml"
    kept = f'pidfile = "{run / "prefork.pid"}"\n'
    config.write_text(f"timeout = 20\n{kept}")
    d = daemons("--config", str(config), "--bind", f"unix:{sockets / 'app.sock'}", workers=1)
    d.wait_ready()
    path = str(sockets / "app.sock")
    socket_kept = tmp_path / "app.sock"
    shutil.move(path, socket_kept)  # the listening socket lives on; its file is kept to reach it
    shutil.rmtree(run)
    shutil.rmtree(sockets)
    config.write_text(f"timeout = 21\n{kept}")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 ready|reload refused")
    assert "reload refused" not in d.log(), d.log()
    assert request_unix(str(socket_kept)).startswith(b"HTTP/1.1 200 OK")
    assert d.request("/").startswith(b"HTTP/1.1 200 OK")

    # a pidfile the file now names in a directory that does not exist is still a problem
    config.write_text(f'timeout = 22\npidfile = "{tmp_path / "missing" / "p.pid"}"\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused")
    assert f"{config}:pidfile: {tmp_path / 'missing' / 'p.pid'}: directory {tmp_path / 'missing'} does not " \
           "exist" in d.log()
    wait_until(lambda: d.request("/").startswith(b"HTTP/1.1 200 OK"), 5, what="the daemon serving on")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
