"""A worker of a reload's new generation that reaches ``max_requests`` before the
switch-over (while ``readiness_withdraw`` holds the old generation serving) asks to be
replaced once; the master keeps that and replaces it at the switch-over.

A real daemon on loopback, driven with real signals; every process is killed by PID
at the end."""

import re
import signal
import time

from daemon import alive, wait_until


def test_a_new_worker_that_reaches_max_requests_before_the_switch_over_is_replaced_after_it(daemons):
    d = daemons("--max-requests", "5", "--readiness-withdraw", "3", workers=1)
    d.wait_ready()
    old, = d.wait_workers(1)
    d.signal(signal.SIGHUP)
    d.wait_log(r"readiness withdrawn, the old generation drains")
    new = int(re.search(r"booting worker 0 \(pid (\d+), generation 2\)", d.log()).group(1))
    served = []

    def new_worker_served_its_quota():  # old and new generation both accept meanwhile
        served.append(int(d.request("/").split()[-1]))
        return served.count(new) >= 5
    wait_until(new_worker_served_its_quota, 10, interval=0, what=lambda: f"5 requests to {new}: {served}")
    assert "generation 2 ready" not in d.log()  # still before the switch-over
    d.wait_log(rf"worker 0 \(pid {new}\) reached max_requests; replacing it once generation 2 takes over")
    d.wait_log(r"reload: generation 2 ready", timeout=10)
    d.wait_log(rf"(?m)worker 0 \(pid {new}\) reached max_requests; replacing it$", timeout=10)
    wait_until(lambda: not alive(new) and not alive(old), 15, what="the old and the quota-spent worker gone")
    replacement, = d.wait_workers(1)
    assert replacement not in (old, new)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and int(d.request("/").split()[-1]) != replacement:
        pass
    assert int(d.request("/").split()[-1]) == replacement
