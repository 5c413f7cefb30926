"""The service starts once the host's addresses are up. A bind to an address not (yet) on
the host exits with status 2, a bad configuration, which the unit's
RestartPreventExitStatus= never restarts: started at boot before network-online.target
(network.target says nothing of addresses), a daemon bound to 10.0.0.5:8000 would stay
down until someone starts it by hand."""

import os
import subprocess
import sys

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unit(name):
    entries = {}
    with open(os.path.join(ROOT, "systemd", name)) as fh:
        for line in fh:
            key, eq, value = line.strip().partition("=")
            if eq and not key.startswith("#"):
                entries.setdefault(key, []).extend(value.split())
    return entries


def test_an_address_not_on_the_host_is_status_2_so_the_unit_waits_for_the_network_to_be_online():
    proc = subprocess.run([sys.executable, "-m", "prefork", "--bind", "192.0.2.1:0", "--metrics-bind", "",
                           "--workers", "1"], capture_output=True, text=True, timeout=30, env=python_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "address not available on this host" in proc.stderr
    service = unit("prefork.service")
    assert "2" in service["RestartPreventExitStatus"]
    assert "network-online.target" in service["After"]
    assert "network-online.target" in service["Wants"]
