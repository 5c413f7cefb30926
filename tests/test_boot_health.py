"""A worker whose app takes seconds to import sends no heartbeat meanwhile (events and
WSGI). Within the boot deadline the master enforces (``timeout``) it is not stale: it
neither turns /healthz into 503 nor starves the systemd watchdog. A serving worker whose
heartbeat stops still is stale, booting workers beside it or not.

Real daemons on loopback, driven with real signals; every process is killed by PID at
the end."""

import json
import os
import re
import signal
import socket
import time

from daemon import wait_until
from test_reexec_handover import get

APP = '''
import os, time

def setup(server):
    with open(os.environ["BOOT_FILE"]) as fh:
        time.sleep(float(fh.read() or 0))
    server.on("request", lambda req, res: res.end(f"pid {os.getpid()}"))
'''


def boot_app(tmp_path, seconds):
    (tmp_path / "bootfile.py").write_text(APP)
    boot_file = tmp_path / "boot-seconds"
    boot_file.write_text(str(seconds))
    return boot_file


def healthz(port, path="/healthz"):
    return get(port, path)


def state(port, pid):
    workers = json.loads(healthz(port, "/status.json")[1])["workers"]
    return next((w["state"], w["stale"]) for w in workers if w["pid"] == pid)


def booting_pid(d, slot):
    pattern = rf"booting worker {slot} \(pid (\d+)"
    d.wait_log(pattern)
    return int(re.search(pattern, d.log()).group(1))


def test_a_worker_booting_within_its_deadline_keeps_healthz_200_and_the_watchdog_fed(daemons, tmp_path):
    boot_file = boot_app(tmp_path, 0)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(0.05)
    d = daemons("--app-dir", str(tmp_path), "--timeout", "8", app="bootfile:setup", workers=1,
                env={"BOOT_FILE": str(boot_file), "NOTIFY_SOCKET": str(tmp_path / "notify"),
                     "WATCHDOG_USEC": "2000000"})  # a WATCHDOG=1 every second while healthy
    d.wait_ready()
    port = d.metrics_port()
    boot_file.write_text("6.5")  # past the watchdog's 3 s and /healthz's 4 s, within timeout (8 s)
    d.signal(signal.SIGTTIN)
    booting = booting_pid(d, 1)
    started = time.monotonic()
    pings, answers = [started], []
    while (now := state(port, booting)) != ("serving", False):
        assert now == ("booting", False)  # (one reading: two could straddle the boot's end)
        try:
            while True:
                if b"WATCHDOG=1" in notify.recv(4096):
                    pings.append(time.monotonic())
        except socket.timeout:
            pass
        status, body = healthz(port)
        answers.append(status)
        assert status == 200, body
        assert time.monotonic() - started < 15, d.log()
    assert time.monotonic() - started > 6  # it did boot that long
    gaps = [b - a for a, b in zip(pings, pings[1:] + [time.monotonic()])]
    assert max(gaps) < 2.5, gaps  # at most one interval missed while the new worker booted
    assert len(answers) > 10


def test_a_serving_worker_with_a_stale_heartbeat_is_reported_while_another_boots(daemons, tmp_path):
    boot_file = boot_app(tmp_path, 0)
    d = daemons("--app-dir", str(tmp_path), "--timeout", "6", app="bootfile:setup", workers=1,
                env={"BOOT_FILE": str(boot_file)})
    d.wait_ready()
    port = d.metrics_port()
    serving, = d.wait_workers(1)
    boot_file.write_text("60")  # boots past the test: aborted at 6 s
    d.signal(signal.SIGTTIN)
    booting = booting_pid(d, 1)
    os.kill(serving, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(healthz(port)), 6,
                                  what="/healthz to turn 503")
        assert time.monotonic() - stopped_at < 5.5  # before the booting worker's deadline at 6 s
        assert f"pid {serving}," in body and f"pid {booting}," not in body, body
    finally:
        os.kill(serving, signal.SIGCONT)
