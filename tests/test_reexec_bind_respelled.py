"""USR2 with a configuration that names a listener it already has in another spelling
(a scheme added, a host name for its address, a relative UNIX path written absolute):
the new master keeps that very socket, and the re-exec goes ahead (it is not refused as
"in use" by the daemon's own listener). Real daemons, real signals, real sockets; every
process is killed by PID at the end."""

import re
import signal
import socket
import subprocess
import sys

import pytest

from daemon import alive, children, kill_all, python_env, wait_until
from harness import read_until_close

CASES = [
    ("127.0.0.1:{port}", "http://127.0.0.1:{port}"),
    ("localhost:{port}", "127.0.0.1:{port}"),
    (":{port}", "0.0.0.0:{port}"),
    ("unix:app.sock", "unix:{tmp}/app.sock"),
]


def reserved_port():
    """A port held for the test: bound with SO_REUSEADDR, never listening, so that the
    daemon (which sets SO_REUSEADDR too) can bind and listen on it, and nobody else can."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def get(tmp_path, address):
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(str(tmp_path / "app.sock"))
    else:
        sock = socket.create_connection(("127.0.0.1", int(address.rpartition(":")[2])), timeout=10)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("old,new", CASES)
def test_usr2_keeps_a_listener_written_otherwise(tmp_path, old, new):
    reserve = reserved_port()
    port = reserve.getsockname()[1]
    old, new = (spelling.format(port=port, tmp=tmp_path) for spelling in (old, new))
    config = tmp_path / "prefork.toml"
    config.write_text(f'bind = ["{old}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\n')
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
        assert get(tmp_path, old).startswith(b"HTTP/1.1 200 OK")
        held = None
        if not old.startswith("unix:"):  # the daemon's listener, held open across the exec: never refused
            held = socket.create_connection(("127.0.0.1", port), timeout=10)
        config.write_text(f'bind = ["{new}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\n')
        proc.send_signal(signal.SIGUSR2)
        wait_log(r"USR2: re-executing the master|USR2 refused")
        assert "USR2 refused" not in log(), log()
        wait_log(r"workers ready", count=2)
        seen.update(children(proc.pid))
        assert f"({new})" in log().split("USR2: re-executing", 1)[1]
        assert alive(proc.pid)
        assert get(tmp_path, new).startswith(b"HTTP/1.1 200 OK")
        if held is not None:  # a connection queued before the exec is answered after it
            held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_close(held).startswith(b"HTTP/1.1 200 OK")
            held.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not (tmp_path / "app.sock").exists()
    finally:
        reserve.close()
        seen.update(children(proc.pid))
        kill_all(proc, seen)


def test_usr2_keeps_the_operations_listener_written_otherwise(tmp_path):
    reserve = reserved_port()
    port = reserve.getsockname()[1]
    config = tmp_path / "prefork.toml"
    config.write_text(f'bind = ["127.0.0.1:0"]\nmetrics_bind = "localhost:{port}"\nworkers = 1\n')
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
        config.write_text(f'bind = ["127.0.0.1:0"]\nmetrics_bind = "127.0.0.1:{port}"\nworkers = 1\n')
        proc.send_signal(signal.SIGUSR2)
        wait_log(r"USR2: re-executing the master|USR2 refused")
        assert "USR2 refused" not in log(), log()
        wait_log(r"workers ready", count=2)
        seen.update(children(proc.pid))
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).startswith(b"HTTP/1.1 200 OK")
        sock.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        reserve.close()
        seen.update(children(proc.pid))
        kill_all(proc, seen)
