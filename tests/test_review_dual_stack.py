"""``[::]:PORT`` as gunicorn and Node bind it: IPv4 clients reach it too; beside an IPv4
bind of the same port (nginx's way of writing both) it stays IPv6-only, and both open."""

import socket

import pytest

from prefork.master.listeners import open_listeners


def _reserved_port():
    """A port the kernel chose, held by a socket bound to it (both families) that does not
    listen: the listeners bound to it with SO_REUSEADDR take it, nobody else can."""
    probe = socket.socket(socket.AF_INET6)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    probe.bind(("::", 0))
    return probe


def _accepts(listener, family, host):
    with socket.socket(family) as client:
        client.settimeout(5)
        try:
            client.connect((host, listener.getsockname()[1]))
        except OSError:
            return False
        conn, _ = listener.accept()
        conn.close()
        return True


@pytest.fixture
def ipv6():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")


def test_an_ipv6_wildcard_alone_takes_ipv4_clients_too(ipv6):
    sockets = open_listeners(["[::]:0"], 16, env={})
    try:
        (_, listener), = sockets
        assert _accepts(listener, socket.AF_INET, "127.0.0.1")
        assert _accepts(listener, socket.AF_INET6, "::1")
    finally:
        for _, sock in sockets:
            sock.close()


def test_an_ipv6_wildcard_beside_an_ipv4_bind_of_its_port_is_ipv6_only(ipv6):
    probe = _reserved_port()
    port = probe.getsockname()[1]
    try:
        sockets = open_listeners([f"0.0.0.0:{port}", f"[::]:{port}"], 16, env={})
    finally:
        probe.close()
    try:
        (_, v4), (_, v6) = sockets
        assert v6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        assert _accepts(v4, socket.AF_INET, "127.0.0.1")
        assert _accepts(v6, socket.AF_INET6, "::1")
    finally:
        for _, sock in sockets:
            sock.close()
