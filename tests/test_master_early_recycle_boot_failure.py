"""A worker recycled by ``max_requests`` while the first generation still boots (another
first worker is slow): its replacement failing to boot was taken for a first start's
boot failure, and the daemon stopped with status 3, killing the slow worker and the
serving one. A replacement's failure leaves the worker it was to replace serving, as
after the first boot: the daemon keeps serving."""

import signal

from daemon import wait_until


def test_a_replacement_failing_during_the_first_boot_does_not_stop_the_daemon(daemons, tmp_path):
    d = daemons("--max-requests", "1", "--max-requests-jitter", "0", app="apps.broken_later:setup",
                workers=2, env={"BOOT_COUNT_FILE": str(tmp_path / "imports"), "BOOT_SLOW": "3"})
    # the first worker serves while the second still imports; its request recycles it
    wait_until(lambda: b"200 OK" in d.request(), 10, what="the first worker serving")
    d.wait_log(r"failed to boot", timeout=10)
    assert d.proc.poll() is None, d.log()
    d.wait_ready(timeout=15)  # the slow first worker comes up
    assert d.proc.poll() is None, d.log()
    assert b"200 OK" in d.request(), d.log()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0, d.log()


def test_the_first_boot_is_ready_while_a_serving_workers_replacement_still_boots(daemons, tmp_path):
    # the slow first worker comes up while the other slot's replacement is still booting:
    # the worker that replacement is for serves, so every slot is served and the daemon is ready
    d = daemons("--max-requests", "1", "--max-requests-jitter", "0", app="apps.broken_later:setup",
                workers=2, env={"BOOT_COUNT_FILE": str(tmp_path / "imports"), "BOOT_SLOW": "1",
                                "BOOT_FAIL_SLOW": "30"})
    wait_until(lambda: b"200 OK" in d.request(), 10, what="the first worker serving")
    d.wait_log(r"reached max_requests; replacing it", timeout=10)
    d.wait_ready(timeout=10)
    assert "failed to boot" not in d.log()  # (its replacement was still booting)
    assert b"200 OK" in d.request(), d.log()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0, d.log()
