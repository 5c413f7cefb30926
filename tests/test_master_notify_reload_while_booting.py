"""systemd notifications when a HUP comes while the first generation still boots: the
daemon is ready once (``READY=1`` when the first workers serve); the reload's
switch-over after that is no reload systemd was told of (no ``RELOADING=1`` went
out), so it sends no second ``READY=1``. A later HUP says ``RELOADING=1`` then
``READY=1`` as ever."""

import os
import re
import signal

from daemon import scratch_dir, wait_until
from test_operations import NotifyListener


def booting_pid(d, generation):
    pattern = rf"booting worker 0 \(pid (\d+), generation {generation}\)"
    found = wait_until(lambda: re.search(pattern, d.log()), 20, what=d.log)
    return int(found.group(1))


def test_a_hup_while_the_first_generation_boots_sends_ready_once(daemons):
    gates = scratch_dir("prefork-gates-")
    listener = NotifyListener()
    try:
        d = daemons(app="apps.gated_boot:setup", workers=1,
                    env={"NOTIFY_SOCKET": listener.address, "GATE_DIR": gates})
        first = booting_pid(d, 1)
        d.signal(signal.SIGHUP)
        second = booting_pid(d, 2)
        open(os.path.join(gates, f"open-{first}"), "w").close()
        listener.wait("READY", "1")  # the first generation serves: the start is over
        open(os.path.join(gates, f"open-{second}"), "w").close()
        wait_until(lambda: "reload: generation 2 ready" in d.log(), 20, what=d.log)
        d.signal(signal.SIGHUP)  # a reload systemd is told of: RELOADING=1, then READY=1
        open(os.path.join(gates, f"open-{booting_pid(d, 3)}"), "w").close()
        wait_until(lambda: "reload: generation 3 ready" in d.log(), 20, what=d.log)
        listener.wait("RELOADING", "1")
        listener.wait("READY", "1", count=2)
        said = [key for _, m in listener.messages for key in ("READY", "RELOADING") if key in m]
        assert said == ["READY", "RELOADING", "READY"], (listener.messages, d.log())
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
    finally:
        listener.close()
