"""USR2 while the configuration file is being edited: the new program's check read a
valid file, the file went bad before the exec (a config-management run, an editor's
save), and the new program stopped at its start on the bad file (status 2), taking the
daemon down. The master reads the configuration once more just before the exec and
refuses the re-exec when it no longer holds, as when the check fails.

The exec is held back deterministically: the operations endpoint is sent part of a
request, which the master waits for (up to a second) before it re-executes. A real
daemon, real signals and sockets on 127.0.0.1; every process is killed by PID at the
end (the ``daemons`` fixture)."""

import re
import signal
import socket

from daemon import alive, wait_until
from harness import read_until_close


def get(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


def test_a_configuration_gone_bad_between_the_check_and_the_exec_refuses_the_reexec(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 1\n")
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    port = d.metrics_port()
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        held.sendall(b"GET /healthz HTTP/1.1\r\n")  # the rest never comes: the exec waits for it
        d.signal(signal.SIGUSR2)
        d.wait_log(r"USR2: checking the new program \(pid \d+\)")
        check = int(re.search(r"checking the new program \(pid (\d+)\)", d.log()).group(1))
        wait_until(lambda: not alive(check), 10, what="the check done")
        config.write_text("workers = 'many'\n")  # edited after the check read it
        d.wait_log(r"USR2 refused|USR2: re-executing", timeout=5)
    finally:
        held.close()
    assert "USR2 refused: the configuration changed" in d.log(), d.log()
    assert "workers: expected an integer" in d.log()
    assert d.proc.poll() is None  # the daemon goes on
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    assert get(port, "/readyz").startswith(b"HTTP/1.1 200 OK")
    # fixed, a USR2 re-executes
    config.write_text("workers = 1\n")
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: re-executing the master")
    d.wait_log(r"workers ready", count=2)
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0


def test_the_new_program_starts_with_the_configuration_its_master_checked_last(daemons, tmp_path):
    """What closes the rest of the race: the master hands the file's content it read
    and checked just before the exec to the new program, which starts with it rather
    than with the file an edit may have spoilt in the fraction of a second between; a
    HUP later reads the file itself. (The new program's side alone: a start with that
    content given while the file on disk is bad.)"""
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 'many'\n")  # spoilt after the master's last read
    d = daemons("--config", str(config), workers=None,
                env={"PREFORK_CHECKED_CONFIG": "workers = 1\nkeep_alive_timeout = 7\n"})
    d.wait_ready()
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive: its head says the timeout
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            assert chunk, head
            head += chunk
    finally:
        sock.close()
    assert b"Keep-Alive: timeout=7" in head, head
    d.signal(signal.SIGHUP)  # the file itself now: refused, and the daemon goes on
    d.wait_log(r"workers: expected an integer")
    assert d.proc.poll() is None
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0
