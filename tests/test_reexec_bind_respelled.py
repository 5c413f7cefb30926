"""USR2 with a configuration that names a listener it already has in another spelling
(a scheme added, a host name for its address, a relative UNIX path written absolute):
the new master keeps that very socket, and the re-exec goes ahead (it is not refused as
"in use" by the daemon's own listener). Real daemons, real signals, real sockets; every
process is killed by PID at the end."""

import signal
import socket

import pytest

from daemon import ConfigDaemon, alive
from harness import read_until_close

CASES = [
    ("127.0.0.1:{port}", "http://127.0.0.1:{port}"),
    ("localhost:{port}", "127.0.0.1:{port}"),
    (":{port}", "0.0.0.0:{port}"),
    ("unix:app.sock", "unix:{tmp}/app.sock"),
]


def reserved_port():
    """A port held for the test: bound with SO_REUSEADDR, never listening, so that the
    daemon (which sets SO_REUSEADDR too) can bind and listen on it, and nobody else can.
    Bound to the wildcard, so the kernel gives a port no IPv4 address holds: the daemon
    binds ``0.0.0.0`` too (a port chosen for 127.0.0.1 may be bound on another address)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))
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
    # (an old worker may accept the held connection: idle, it is kept while draining for
    # keep_alive_timeout, which must outlast a re-exec on a loaded machine)
    config.write_text(f'bind = ["{old}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\nkeep_alive_timeout = 60\n')
    try:
        with ConfigDaemon(tmp_path, config) as d:
            d.wait_log(r"workers ready")
            d.note_workers()
            assert get(tmp_path, old).startswith(b"HTTP/1.1 200 OK")
            held = None
            if not old.startswith("unix:"):  # the daemon's listener, held open across the exec: never refused
                held = socket.create_connection(("127.0.0.1", port), timeout=10)
            config.write_text(f'bind = ["{new}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\nkeep_alive_timeout = 60\n')
            d.proc.send_signal(signal.SIGUSR2)
            d.wait_log(r"USR2: re-executing the master|USR2 refused")
            assert "USR2 refused" not in d.log(), d.log()
            d.wait_log(r"workers ready", count=2)
            d.note_workers()
            assert f"({new})" in d.log().split("USR2: re-executing", 1)[1]
            assert alive(d.proc.pid)
            assert get(tmp_path, new).startswith(b"HTTP/1.1 200 OK")
            if held is not None:  # a connection queued before the exec is answered after it
                held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert read_until_close(held).startswith(b"HTTP/1.1 200 OK")
                held.close()
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(20) == 0
            assert not (tmp_path / "app.sock").exists()
    finally:
        reserve.close()


def test_usr2_keeps_the_operations_listener_written_otherwise(tmp_path):
    reserve = reserved_port()
    port = reserve.getsockname()[1]
    config = tmp_path / "prefork.toml"
    config.write_text(f'bind = ["127.0.0.1:0"]\nmetrics_bind = "localhost:{port}"\nworkers = 1\n')
    try:
        with ConfigDaemon(tmp_path, config) as d:
            d.wait_log(r"workers ready")
            d.note_workers()
            config.write_text(f'bind = ["127.0.0.1:0"]\nmetrics_bind = "127.0.0.1:{port}"\nworkers = 1\n')
            d.proc.send_signal(signal.SIGUSR2)
            d.wait_log(r"USR2: re-executing the master|USR2 refused")
            assert "USR2 refused" not in d.log(), d.log()
            d.wait_log(r"workers ready", count=2)
            d.note_workers()
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_close(sock).startswith(b"HTTP/1.1 200 OK")
            sock.close()
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(20) == 0
    finally:
        reserve.close()
