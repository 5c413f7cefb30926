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


def test_a_link_local_address_with_its_zone_binds(tmp_path):
    """``[fe80::…%IFACE]:PORT`` (a zone by name or number) binds: the zone is the scope id
    of a 4-tuple address; a "fe80::1%4" host in a 2-tuple was EINVAL at start."""
    import os
    import secrets
    import subprocess
    import sys

    from netns import unavailable
    why = unavailable()
    if why:
        pytest.skip(why)
    ns = f"pfzone{os.getpid()}{secrets.token_hex(2)}"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
    try:
        for command in (["ip", "link", "add", "zone0", "type", "veth", "peer", "name", "zone1"],
                        ["ip", "link", "set", "zone0", "up"], ["ip", "link", "set", "zone1", "up"],
                        ["ip", "-6", "addr", "add", "fe80::77/64", "dev", "zone0", "nodad"]):
            subprocess.run(["ip", "netns", "exec", ns, *command], check=True, timeout=30)
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import socket\n"
                "from prefork.master.listeners import open_listeners\n"
                "index = socket.if_nametoindex('zone0')\n"
                "for zone in ('zone0', str(index)):\n"
                "    (_, sock), = open_listeners([f'[fe80::77%{zone}]:0'], 8, env={})\n"
                "    address = sock.getsockname()\n"
                "    assert address[0].startswith('fe80::77') and address[3] == index, address\n"
                "    sock.close()\n"
                "print('ok')\n")
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code, root], capture_output=True,
                             text=True, timeout=60)
        assert out.stdout.strip() == "ok", out.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], timeout=30)


def test_an_inherited_ipv6_only_wildcard_asked_to_be_dual_stack_is_said(ipv6, caplog):
    """After USR2 the new master takes the listeners as they are: one bound IPv6-only
    (beside an IPv4 bind that the new configuration drops) stays so until a restart, and
    the new master says so rather than refusing IPv4 clients without a word."""
    import logging
    old = socket.socket(socket.AF_INET6)
    old.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    old.bind(("::", 0))
    old.listen(8)
    address = f"[::]:{old.getsockname()[1]}"
    inherited = [(address, old)]
    with caplog.at_level(logging.WARNING, logger="prefork.master"):
        sockets = open_listeners([address], 16, env={}, inherited=inherited)
    try:
        assert sockets == [(address, old)]
        assert f"{address}: the listener handed over is IPv6-only; the configuration asks for dual-stack" in caplog.text
    finally:
        old.close()
