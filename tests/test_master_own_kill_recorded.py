"""Every SIGKILL the master sends a worker is recorded where it is sent: a worker that
exits of its own accord and whose exit work outlives graceful_timeout is killed by the
master, and its death's line does not say it was killed from outside (out of memory?),
and its restart counts as ``timeout``, not ``crash``."""

from daemon import wait_until

RESTARTS = "prefork_worker_restarts_total"


def restarts(d, reason):
    return d.scrape().get((RESTARTS, (("reason", reason),)), 0)


def test_a_worker_the_master_kills_past_its_exit_deadline_is_not_called_killed_from_outside(daemons):
    d = daemons(app="apps.exit_hangs_at_exit:setup", workers=1, graceful_timeout="0.5")
    d.wait_ready()
    assert b"bye" in d.request("/exit")
    d.wait_log(r"did not stop in time; killing it", timeout=10)
    d.wait_log(r"died \(signal SIGKILL\)", timeout=10)
    line = next(line for line in d.log().splitlines() if "died (signal SIGKILL)" in line)
    assert "not killed by the master" not in line and "out of memory" not in line, line
    wait_until(lambda: restarts(d, "timeout") == 1, 5, what=lambda: f"a timeout restart: {d.scrape()}")
    assert restarts(d, "crash") == 0, d.scrape()
    d.wait_workers(1)
    assert b"ok" in d.request("/")
