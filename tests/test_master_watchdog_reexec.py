"""systemd's watchdog across a USR2: the master pings (WATCHDOG=1) as soon as it runs,
at a first start and after the exec, rather than one interval (half of WATCHDOG_USEC)
later. The exec comes at any moment of the old master's ping cycle, so waiting an
interval after it left up to WatchdogSec plus the new program's start without a ping,
and systemd killed the daemon. Real daemon, a real notify socket."""

import os
import signal
import socket
import time

from daemon import wait_until

WATCHDOG_USEC = 20_000_000  # pings every 10 s: the test's 5 s bounds tell "at once" from "an interval later"


def messages(sock, until, enough):
    """The datagrams received, with when they came, until ``enough(got)`` holds or the
    monotonic time ``until``."""
    got = []
    while time.monotonic() < until and not enough(got):
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            got.append((time.monotonic(), sock.recv(4096).decode()))
        except socket.timeout:
            break
    return got


def test_master_pings_the_watchdog_at_once_at_start_and_after_a_usr2(daemons, tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        started = time.monotonic()
        d = daemons(workers=1, env=env)
        assert "WATCHDOG_PID" not in os.environ
        first = messages(sock, started + 5, lambda got: any("WATCHDOG=1" in m for _, m in got))
        assert any("WATCHDOG=1" in m for _, m in first), (first, d.log())
        d.wait_ready()
        sent = time.monotonic()
        d.signal(signal.SIGUSR2)
        wait_until(lambda: "re-executing the master" in d.log() or d.proc.poll() is not None, 30, what=d.log)
        # the new master's READY=1 (it names its MAINPID), and a ping
        got = messages(sock, sent + 5, lambda got: any("MAINPID=" in m for _, m in got)
                       and any("WATCHDOG=1" in m for _, m in got))
        assert any("MAINPID=" in m for _, m in got), (got, d.log())
        assert any("WATCHDOG=1" in m for _, m in got), (got, d.log())
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
    finally:
        sock.close()
