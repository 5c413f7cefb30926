"""A worker killed by a SIGKILL the master did not send (the kernel's OOM killer, most
often) is replaced, and its death's line says that the master did not kill it and
names the likely sender, as gunicorn's "Perhaps out of memory?" does; a worker the
master kills itself (a stopped one past its timeout) gets no such hint."""

import os
import re
import signal

from daemon import wait_until


def test_a_worker_killed_from_outside_is_replaced_with_an_out_of_memory_hint(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    victim, = d.wait_workers(1)
    os.kill(victim, signal.SIGKILL)
    d.wait_log(rf"worker 0 \(pid {victim}\) died \(signal SIGKILL\)")
    d.wait_workers(1, exclude=[victim])
    line = re.search(rf".*\(pid {victim}\) died.*", d.log())[0]
    assert re.search(r"died \(signal SIGKILL\) after \d+\.\d s; replacing it; it was not killed by the master: "
                     r"out of memory\? \(see the kernel log, dmesg\)$", line), line
    assert d.request().startswith(b"HTTP/1.1 200 OK")


def test_a_worker_the_master_kills_gets_no_out_of_memory_hint(daemons):
    d = daemons("--timeout", "2", workers=1)
    d.wait_ready()
    victim, = d.wait_workers(1)
    os.kill(victim, signal.SIGSTOP)  # no heartbeat: the master kills it (SIGKILL: a stopped one takes no SIGABRT)
    d.wait_log(rf"worker 0 \(pid {victim}\) died \(signal SIGKILL\)", timeout=15)
    wait_until(lambda: re.search(rf".*\(pid {victim}\) died.*", d.log()), 5)
    line = re.search(rf".*\(pid {victim}\) died.*", d.log())[0]
    assert "it is stopped (SIGSTOP, a debugger); killing it" in d.log(), d.log()
    assert "out of memory" not in line, line
