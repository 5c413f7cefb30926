"""Two listen addresses the master cannot bind side by side: the same address and port
written two ways (``:PORT`` and ``0.0.0.0:PORT``), or a wildcard and an address of its
family on one port (``0.0.0.0:PORT`` beside ``127.0.0.1:PORT``), in ``bind`` or between
``bind`` and ``metrics_bind``. A start refused them (exit status 2, ``address already in
use``), but ``check-config`` passed them with status 0: a deploy's check let through
a configuration the daemon would not start on. check-config now says what the start
says, line for line; addresses the start takes side by side stay valid.

Real daemons on loopback (each start that fails is waited for; one that starts is
stopped by PID). The port is one this test holds bound on every address of both
families while the checks run (a port found free by probing could be taken meanwhile by
any other process): the refusals are the configuration's, made before any bind, and
check-config binds nothing."""

import socket

import pytest

from test_ops_bind_wildcard import prefork as run_prefork


@pytest.fixture
def port():
    """A port held on every IPv4 and IPv6 address (a dual-stack wildcard socket) for the
    test's duration: no other process can take it meanwhile."""
    with socket.socket(socket.AF_INET6) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0))
        yield sock.getsockname()[1]


def prefork(args, cwd):
    """The exit status and stderr lines of ``prefork ARGS``; a daemon that starts is stopped."""
    status, err = run_prefork([*args, "--workers", "1", "--access-log", ""], cwd)
    return status, err.splitlines()


@pytest.mark.parametrize("bind, metrics, problem", [
    (["127.0.0.1:{p}", "0.0.0.0:{p}"], "127.0.0.1:0",
     "argv:--bind: 0.0.0.0:{p}: address already in use (by 127.0.0.1:{p}, also in this list)"),
    (["0.0.0.0:{p}", ":{p}"], "127.0.0.1:0",
     "argv:--bind: :{p}: address already in use (by 0.0.0.0:{p}, also in this list)"),
    ([":{p}", "http://127.0.0.1:{p}"], "127.0.0.1:0",
     "argv:--bind: 127.0.0.1:{p}: address already in use (by :{p}, also in this list)"),
    (["[::]:{p}", "[::1]:{p}"], "127.0.0.1:0",
     "argv:--bind: [::1]:{p}: address already in use (by [::]:{p}, also in this list)"),
    (["127.0.0.1:{p}"], "0.0.0.0:{p}",
     "argv:--metrics-bind: 0.0.0.0:{p}: address already in use (by 127.0.0.1:{p}, a bind address)"),
], ids=["wildcard-after", "empty-host", "wildcard-first", "ipv6", "metrics"])
def test_check_config_refuses_addresses_a_start_could_not_bind_together_as_the_start_does(
        tmp_path, port, bind, metrics, problem):
    args = [arg for address in bind for arg in ("--bind", address.format(p=port))]
    args += ["--metrics-bind", metrics.format(p=port)]
    expected = problem.format(p=port)
    status, lines = prefork(["check-config", *args], tmp_path)
    assert status == 2 and expected in lines, lines
    status, lines = prefork(args, tmp_path)
    assert status == 2 and expected in lines, lines


@pytest.mark.parametrize("bind", [
    ["[::]:{p}", "0.0.0.0:{p}"],  # the IPv6 wildcard is IPv6-only beside an IPv4 address of its port
    ["127.0.0.1:{p}", "[::1]:{p}"],
    ["127.0.0.1:{p}", "127.0.0.2:{p}"],
    ["127.0.0.1:0", "0.0.0.0:0"],
], ids=["dual-stack", "families", "two-addresses", "port-0"])
def test_addresses_that_bind_side_by_side_stay_valid(tmp_path, port, bind):
    args = [arg for address in bind for arg in ("--bind", address.format(p=port))]
    status, lines = prefork(["check-config", *args, "--metrics-bind", "127.0.0.1:0"], tmp_path)
    assert status == 0, lines
