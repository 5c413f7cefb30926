"""A trusted proxy network written with host bits set (``10.0.0.1/24``) is refused,
naming the network and the address, as gunicorn refuses it: taken as its network it
would trust 256 peers where one may have been meant (uvicorn trusts no peer by it)."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], capture_output=True, text=True,
                          timeout=30, env={**python_env(), **(env or {})}, cwd=tmp_path, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("entry, network, address", [
    ("10.0.0.1/24", "10.0.0.0/24", "10.0.0.1"),
    ("192.168.1.10/16", "192.168.0.0/16", "192.168.1.10"),
    ("2001:db8::1/64", "2001:db8::/64", "2001:db8::1"),
])
def test_a_flag_naming_a_network_by_one_of_its_hosts_is_refused(tmp_path, entry, network, address):
    proc = check(tmp_path, "--forwarded-allow-ips", f"127.0.0.1,{entry}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"argv:--forwarded-allow-ips: {entry!r} has host bits set: write {network} for the network, "
        f"or {address} for that address alone"], proc.stderr


def test_the_file_and_the_variable_other_servers_read_are_checked_alike(tmp_path):
    (tmp_path / "prefork.toml").write_text('proxy_protocol = true\nproxy_allow_ips = ["10.1.2.3/8"]\n')
    proc = check(tmp_path, "-c", "prefork.toml", env={"FORWARDED_ALLOW_IPS": "172.16.5.4/12"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert sorted(proc.stderr.splitlines()) == sorted([
        "env:FORWARDED_ALLOW_IPS: '172.16.5.4/12' has host bits set: write 172.16.0.0/12 for the network, "
        "or 172.16.5.4 for that address alone",
        "prefork.toml:proxy_allow_ips: '10.1.2.3/8' has host bits set: write 10.0.0.0/8 for the network, "
        "or 10.1.2.3 for that address alone"]), proc.stderr


@pytest.mark.parametrize("entries", ["10.0.0.0/8", "10.0.0.1/32", "10.0.0.1", "2001:db8::/64,unix", "*"])
def test_networks_and_addresses_written_plainly_are_taken(tmp_path, entries):
    proc = check(tmp_path, "--forwarded-allow-ips", entries)
    assert proc.returncode == 0, proc.stderr
    shown = ", ".join(f'"{e}"' for e in entries.split(","))
    assert f"forwarded_allow_ips = [{shown}]  # argv:--forwarded-allow-ips" in proc.stdout.splitlines(), proc.stdout


