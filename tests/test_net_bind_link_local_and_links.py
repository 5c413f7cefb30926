"""Bind addresses the kernel refuses with a misleading error, and the listening line of
an IPv6 link-local listener.

- An IPv6 link-local address (fe80::/10) without its zone: the kernel cannot tell the
  interface and answers EINVAL, which the daemon printed as "invalid argument". It is
  refused saying that the zone is needed, naming the interface when this host has one.
- A UNIX socket path that is a symbolic link to nothing: bind(2) does not follow it
  and answers EADDRINUSE ("address already in use", as gunicorn and nginx report it,
  with no server anywhere). It is refused saying what the path is; the link stays.
- A link-local listener's "listening at" line kept the address without its zone, which
  no client can connect to as written: it names the zone now.

Real daemons and check-config runs; every process is waited for, killed by PID if it
outlives its check."""

import ipaddress
import signal
import subprocess
import sys

import pytest

from daemon import python_env, wait_until
from test_net_bind_same_place_twice import COMMON, prefork




def link_local():
    """(address, interface name) of a link-local IPv6 address of this host."""
    with open("/proc/net/if_inet6") as table:
        for line in table:
            hexa, *_, name = line.split()
            if hexa.startswith("fe80"):
                return str(ipaddress.IPv6Address(bytes.fromhex(hexa))), name
    raise AssertionError("this test needs a link-local IPv6 address on the host (/proc/net/if_inet6)")


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_link_local_address_without_its_zone_is_refused_naming_the_zone(tmp_path, command):
    status, err = prefork([*command, "--bind", "[fe80::1234]:8000", *COMMON], tmp_path)
    assert status == 2, err
    assert ("argv:--bind: [fe80::1234]:8000: a link-local address is bound on one network interface: write "
            "[fe80::1234%INTERFACE]:8000") in err.splitlines(), err


def test_a_link_local_address_of_this_host_without_its_zone_is_told_its_interface(tmp_path):
    address, name = link_local()
    status, err = prefork(["check-config", "--bind", f"[{address}]:8000", *COMMON], tmp_path)
    assert status == 2, err
    assert f"write [{address}%{name}]:8000" in err, err


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_unix_path_that_is_a_dangling_link_is_refused_as_one_and_kept(tmp_path, command):
    link = tmp_path / "app.sock"
    link.symlink_to(tmp_path / "gone")
    status, err = prefork([*command, "--bind", f"unix:{link}", *COMMON], tmp_path)
    assert status == 2, err
    assert (f"argv:--bind: unix:{link}: the path is a symbolic link to {tmp_path / 'gone'}, which does not "
            f"exist (a socket is not bound through a link)") in err.splitlines(), err
    assert "already in use" not in err, err
    assert link.is_symlink()


def test_a_link_local_listener_is_named_with_its_zone(tmp_path):
    address, name = link_local()
    index = int(open(f"/sys/class/net/{name}/ifindex").read())
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "--bind", f"[{address}%{index}]:0", *COMMON],
                            cwd=tmp_path, env=python_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "err", "w"))
    try:
        wait_until(lambda: "listening at" in (tmp_path / "err").read_text(), 10, what="the listening line")
        line = next(line for line in (tmp_path / "err").read_text().splitlines() if "listening at" in line)
        assert f"listening at [{address}%{name}]:" in line, line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
