"""A USR2 whose configuration changes ``backlog`` applies it to the listeners the daemon
bound (TCP and UNIX), kept across the exec: the kernel's listen queue limit (``ss``'s
Send-Q of a listening socket) is the new one. Real daemon, real signals; every process
is killed by PID at the end."""

import re
import signal
import subprocess

from daemon import ConfigDaemon
from debian import ensure


def backlogs(port, path):
    """{address: listen backlog} of the TCP port and the UNIX path, as ss shows them."""
    ss, why = ensure("ss", "iproute2")
    assert ss is not None, why
    out = subprocess.run([ss, "-lntx"], capture_output=True, text=True, timeout=10).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[1] == "LISTEN" and fields[4] in (f"127.0.0.1:{port}", path):
            found[fields[4]] = int(fields[3])
    return found


def test_usr2_applies_a_new_backlog_to_the_listeners_it_keeps(tmp_path):
    path = str(tmp_path / "app.sock")
    config = tmp_path / "prefork.toml"
    text = 'bind = ["127.0.0.1:0", "unix:{}"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\nbacklog = {}\n'
    config.write_text(text.format(path, 17))
    with ConfigDaemon(tmp_path, config) as d:
        d.wait_log(r"workers ready")
        d.note_workers()
        port = int(re.search(r"listening at 127\.0\.0\.1:(\d+)", d.log()).group(1))
        assert backlogs(port, path) == {f"127.0.0.1:{port}": 17, path: 17}
        config.write_text(text.format(path, 33))
        d.proc.send_signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2)
        d.note_workers()
        assert f"listening at 127.0.0.1:{port} " in d.log().split("USR2: re-executing", 1)[1]  # the same socket
        assert backlogs(port, path) == {f"127.0.0.1:{port}": 33, path: 33}
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(20) == 0
