"""A USR2 whose configuration drops ``0.0.0.0:PORT`` from beside ``[::]:PORT``: the
``[::]`` listener the new master would keep is IPv6-only (it was bound beside its IPv4
twin, and the flag cannot change on a bound socket), so IPv4 clients would be refused
until a restart. The re-exec is refused instead and the running daemon keeps serving
both families. Real daemon, real signals, real sockets; every process is killed by PID
at the end."""

import signal
import socket

import pytest

from daemon import ConfigDaemon, alive, children
from harness import read_until_close


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not has_ipv6_loopback(), reason="needs IPv6 loopback")


def reserved_port():
    """A port the kernel chose for both families at once, held for the test: one
    dual-stack socket bound to ``[::]`` with SO_REUSEADDR, never listening, so the daemon
    (SO_REUSEADDR too) can listen on it in either family and nobody else can. (An
    IPv6-only socket's port, then its IPv4 twin bound to the same number, could find that
    number taken in IPv4 already.)"""
    sock = socket.socket(socket.AF_INET6)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0))
    return [sock]


def get(family, host, port):
    sock = socket.socket(family)
    sock.settimeout(10)
    try:
        sock.connect((host, port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


def test_usr2_dropping_the_ipv4_twin_of_an_ipv6_wildcard_is_refused(tmp_path):
    held = reserved_port()
    port = held[0].getsockname()[1]
    config = tmp_path / "prefork.toml"
    config.write_text(f'bind = ["[::]:{port}", "0.0.0.0:{port}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\n')
    try:
        with ConfigDaemon(tmp_path, config) as d:
            d.wait_log(r"workers ready")
            workers = d.note_workers()
            config.write_text(f'bind = ["[::]:{port}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\n')
            d.proc.send_signal(signal.SIGUSR2)
            d.wait_log(r"USR2: re-executing the master|USR2 refused")
            assert "USR2 refused" in d.log(), d.log()
            assert f"{config}:bind: [::]:{port}: kept IPv6-only by a USR2" in d.log()
            assert alive(d.proc.pid) and children(d.proc.pid) == workers
            assert get(socket.AF_INET, "127.0.0.1", port).startswith(b"HTTP/1.1 200 OK")
            assert get(socket.AF_INET6, "::1", port).startswith(b"HTTP/1.1 200 OK")
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(20) == 0
    finally:
        for sock in held:
            sock.close()
