"""USR2 while the configuration file is being edited: the new program's check read a
valid file, the file went bad before the exec (a config-management run, an editor's
save), and the new program stopped at its start on the bad file (status 2), taking the
daemon down. The master reads the file once, before the check, and hands that content
to the check and to the new program; a file too large to hand over is read once more
just before the exec, and the re-exec refused when it no longer holds.

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


def usr2_then_spoil(d, config, spoilt):
    """A USR2 whose exec is held (a partial request on the operations endpoint) until
    ``config`` has been given ``spoilt`` after the check child ended."""
    held = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5)
    try:
        held.sendall(b"GET /healthz HTTP/1.1\r\n")  # the rest never comes: the exec waits for it
        d.signal(signal.SIGUSR2)
        d.wait_log(r"USR2: checking the new program \(pid \d+\)")
        check = int(re.search(r"checking the new program \(pid (\d+)\)", d.log()).group(1))
        wait_until(lambda: not alive(check), 10, what="the check done")
        config.write_text(spoilt)  # edited after the check read it
        d.wait_log(r"USR2 refused|USR2: re-executing", timeout=5)
    finally:
        held.close()


def test_a_configuration_spoilt_after_the_check_does_not_reach_the_new_program(daemons, tmp_path):
    """The master read the file once, before the check; the check judged that content
    and the new program starts with it: the edit reaches neither. The next HUP reads the
    file, refuses it, and the daemon goes on."""
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 1\n")
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    usr2_then_spoil(d, config, "workers = 'many'\n")
    d.wait_log(r"workers ready", count=2)  # the new program, on the content checked
    assert "USR2 refused" not in d.log(), d.log()
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGHUP)
    d.wait_log(r"workers: expected an integer")
    assert d.proc.poll() is None  # the daemon goes on
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    assert get(d.metrics_port(), "/readyz").startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0


def test_a_large_configuration_gone_bad_after_the_check_refuses_the_reexec(daemons, tmp_path):
    """A file too large to hand over (over 64 KiB) is read by the check and the new
    program themselves: the master reads it once more just before the exec, and one
    gone bad since refuses the re-exec; fixed, a USR2 re-executes."""
    config = tmp_path / "prefork.toml"
    padding = "# " + "x" * 98 + "\n"
    good = "workers = 1\n" + padding * 700
    config.write_text(good)
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    usr2_then_spoil(d, config, "workers = 'many'\n" + padding * 700)
    assert "USR2 refused: the configuration changed" in d.log(), d.log()
    assert "workers: expected an integer" in d.log()
    assert d.proc.poll() is None  # the daemon goes on
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    config.write_text(good)
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
