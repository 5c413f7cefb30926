"""Workers that cannot be forked (the daemon in a cgroup whose pids controller allows
fewer processes than workers): the daemon is ready with the workers it has, says how
many are missing, tries the missing slots again less and less often with a bounded
number of log lines, and fills them once processes may be made again."""

import os
import re
import signal

import pytest

from daemon import Daemon, wait_until
from test_health import get

PIDS = "/sys/fs/cgroup/pids"


@pytest.fixture
def cgroup():
    if not os.access(PIDS, os.W_OK):
        pytest.skip("no writable cgroup-v1 pids controller here")
    path = os.path.join(PIDS, f"prefork-test-{os.getpid()}")
    os.mkdir(path)
    try:
        yield path
    finally:
        with open(os.path.join(path, "cgroup.procs")) as fh:
            left = fh.read().split()
        assert not left, f"processes left in the cgroup: {left}"
        os.rmdir(path)


def limit(cgroup, n):
    with open(os.path.join(cgroup, "pids.max"), "w") as fh:
        fh.write(str(n))


def test_workers_that_cannot_be_forked_leave_the_daemon_ready_with_the_rest(cgroup):
    limit(cgroup, 3)  # the master and two workers
    d = Daemon(workers=4, prefix=["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh"])
    try:
        d.wait_log(r"2 of 4 workers ready; 2 could not be started", timeout=15)
        port = d.metrics_port()
        assert get(port, "/readyz")[0] == 200
        assert get(port, "/healthz")[0] == 200
        assert b"200 OK" in d.request("/")
        assert len(d.workers()) == 2
        # the next try of each missing slot, a second later, is logged; the third is not
        d.wait_log(r"cannot start worker \d: fork failed: .*\(2 tries so far; the next in 2 s\)", count=2)
        failures = re.findall(r"cannot start worker (\d)", d.log())
        assert sorted(failures) == ["2", "2", "3", "3"], d.log()
        assert "then less and less often" in d.log()
        limit(cgroup, "max")
        d.wait_log(r"worker \d started after [23] failed tries", count=2, timeout=10)
        d.wait_workers(4)
        assert len(re.findall(r"cannot start worker", d.log())) <= 6  # (a 4th try's line, at most)
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        d.cleanup()
    wait_until(lambda: not open(os.path.join(cgroup, "cgroup.procs")).read().split(), 10, what="an empty cgroup")


def test_a_reload_whose_worker_cannot_be_forked_is_refused_without_a_retry_promise(cgroup):
    d = Daemon(workers=1, prefix=["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh"])
    try:
        d.wait_ready()
        limit(cgroup, 2)  # the master and its worker: a reload's new worker cannot be forked
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload refused: a new worker could not be started")
        line = re.search(r".*cannot start worker 0: fork failed.*", d.log())[0]
        assert "trying again" not in line, line  # (the reload is refused; nothing tries again)
        limit(cgroup, "max")
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload: generation 2 ready", timeout=15)
        assert "started after" not in d.log()  # (a stale count said "after 1 failed try")
        assert b"200 OK" in d.request("/")
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        d.cleanup()
    wait_until(lambda: not open(os.path.join(cgroup, "cgroup.procs")).read().split(), 10, what="an empty cgroup")
