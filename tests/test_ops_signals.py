"""Signals at awkward moments of the first boot. Real daemons, real signals; every
process is killed by PID at the end (the ``daemons`` fixture)."""

import json
import os
import re
import resource
import signal
import socket
import textwrap
import time

import pytest

from daemon import wait_until
from harness import read_until_close

# Worker 1 holds its boot while GATE.hold exists; every other worker boots at once.
SLOT1_APP = """
import os
import time


def setup(server):
    with open("/proc/self/cmdline", "rb") as fh:
        title = fh.read()
    while b"worker 1 " in title and os.path.exists(os.environ["GATE"] + ".hold"):
        time.sleep(0.02)
    server.on("request", lambda req, res: res.end(str(os.getpid())))
"""


def get(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    return int(head.split()[1]), body.decode()


def test_ttou_of_the_last_booting_worker_of_the_first_generation_makes_the_daemon_ready(daemons, tmp_path):
    (tmp_path / "slot1.py").write_text(textwrap.dedent(SLOT1_APP))
    (tmp_path / "gate.hold").touch()
    d = daemons("--app-dir", str(tmp_path), app="slot1:setup", workers=2, env={"GATE": str(tmp_path / "gate")})
    port = d.metrics_port()
    d.wait_log(r"booting worker 1")
    assert get(port, "/readyz") == (503, "booting\n")
    d.signal(signal.SIGTTOU)  # worker 1, still booting, goes: worker 0 is the whole daemon now
    d.wait_log(r"worker 1 \(pid \d+\) stopped")
    d.wait_log(r"workers ready: 1")
    assert get(port, "/readyz") == (200, "ready\n")


def core_files_land_in_the_working_directory():
    try:
        with open("/proc/sys/kernel/core_pattern") as fh:
            pattern = fh.read().strip()
    except OSError:
        return False
    return not pattern.startswith("|") and "/" not in pattern


@pytest.mark.skipif(not core_files_land_in_the_working_directory(), reason="core files go elsewhere here")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGQUIT])
def test_a_fast_stop_while_workers_boot_dumps_no_core(daemons, tmp_path, signum):
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(60)\n\n\ndef setup(server):\n    pass\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))  # inherited by the daemon: cores would be written
    try:
        d = daemons("--app-dir", str(tmp_path), app="slow:setup", workers=2)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    d.wait_log(r"booting worker 1")
    wait_until(lambda: len(d.workers()) == 2, 10, what="both workers forked")
    d.signal(signum)
    assert d.wait_exit() == 0, d.log()
    assert len(re.findall(r"worker \d \(pid \d+\) stopped: signal", d.log())) == 2, d.log()
    assert [name for name in os.listdir(d.tmp) if name.startswith("core")] == []


def test_a_master_stopped_longer_than_timeout_aborts_no_healthy_worker_when_it_continues(daemons):
    d = daemons("--timeout", "1", workers=2)
    d.wait_ready()
    workers = d.workers()
    d.signal(signal.SIGSTOP)  # Ctrl-Z, a debugger, a paused VM: the workers serve on meanwhile
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:  # the workers' heartbeats wait in their channels
            assert b"200 OK" in d.request("/")
            time.sleep(0.1)
    finally:
        d.signal(signal.SIGCONT)
    # a heartbeat after the pause, read by the master: every worker was judged by then
    metrics = d.metrics_port()
    wait_until(lambda: all(get(metrics, "/status.json")[1].count(f'"pid":{pid},') for pid in workers)
               and max(w["heartbeat_age"] for w in json.loads(get(metrics, "/status.json")[1])["workers"]) < 0.9,
               10, what="fresh heartbeats after the pause")
    assert "aborting" not in d.log(), d.log()
    assert d.workers() == workers
