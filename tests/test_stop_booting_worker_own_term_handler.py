"""A worker told to stop while it boots never serves, even when its app set a SIGTERM
handler of its own at import (so the TERM did not end the import): it ends once the
import does, or is killed ``KILL_GRACE`` after the TERM if the import goes on. It was
left to finish booting, report ready and serve new connections after the stop began,
until the graceful kill. And a lifespan startup that completed as a TERM came is undone
by its lifespan shutdown before the worker ends (it was taken as cancelled, the
shutdown never run). Real daemons and signals; every process is killed by PID at the
end (the ``daemons`` fixture)."""

import os
import re
import signal
import time

from daemon import wait_until

GRACE = "20"


def answers_until_refused(d):
    """The bodies of requests made one after another until a connect is refused."""
    bodies = []
    while True:
        try:
            response = d.request(timeout=5)
        except ConnectionRefusedError:
            return bodies
        bodies.append(response.partition(b"\r\n\r\n")[2])


def stop_during_reload(daemons, tmp_path):
    slow, release = tmp_path / "slow", tmp_path / "release"
    d = daemons(app="apps.wsgi_import_takes_term:app", workers=1, graceful_timeout=GRACE,
                env={"SLOW_FILE": str(slow), "RELEASE_FILE": str(release)})
    d.wait_ready()
    old, = d.workers()
    slow.write_text("")
    d.signal(signal.SIGHUP)
    d.wait_log(r"slow import in \d+")
    new = int(re.search(r"slow import in (\d+)", d.log()).group(1))
    d.signal(signal.SIGTERM)
    d.wait_log(rf"app TERM handler in {new}\b")  # the app's handler took the stop's TERM
    return d, old, new, release


def test_a_booting_worker_whose_app_took_the_stops_term_ends_when_its_import_does(daemons, tmp_path):
    d, old, new, release = stop_during_reload(daemons, tmp_path)
    started = time.monotonic()
    release.write_text("")  # its import ends now
    bodies = answers_until_refused(d)
    assert d.wait_exit(30) == 0
    assert time.monotonic() - started < 5  # not the graceful_timeout's kill
    log = d.log()
    assert set(bodies) <= {b"pid%d" % old}, (bodies, log)
    assert re.search(rf"\[{new}\] INFO prefork.worker: worker 0: stopped while booting", log), log
    assert "did not stop in time" not in log
    assert f"worker 0 (pid {old}) stopped: exit status 0" in log


def test_a_booting_worker_whose_app_took_the_stops_term_is_killed_if_its_import_goes_on(daemons, tmp_path):
    d, old, new, _ = stop_during_reload(daemons, tmp_path)
    started = time.monotonic()
    bodies = answers_until_refused(d)  # the old worker serves until the new one is gone, then drains
    assert d.wait_exit(30) == 0
    assert time.monotonic() - started < 5
    log = d.log()
    assert set(bodies) <= {b"pid%d" % old}, (bodies, log)
    assert f"worker 0 (pid {new}) stopped: signal SIGKILL" in log, log
    assert f"import done in {new}" not in log
    assert f"worker 0 (pid {old}) stopped: exit status 0" in log


def test_an_abandoned_reloads_worker_whose_app_took_the_term_never_serves(daemons, tmp_path):
    slow, release = tmp_path / "slow", tmp_path / "release"
    d = daemons(app="apps.wsgi_import_takes_term:app", workers=2, graceful_timeout=GRACE,
                env={"SLOW_FILE": str(slow), "RELEASE_FILE": str(release), "FAIL_FIRST": str(tmp_path / "failed")})
    d.wait_ready()
    old = d.workers()
    slow.write_text("")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload aborted: a new worker failed to boot")
    new = int(re.search(r"slow import in (\d+)", d.log()).group(1))
    d.wait_log(rf"app TERM handler in {new}\b")
    release.write_text("")
    bodies, until = [], time.monotonic() + 15
    while f"(pid {new}) stopped" not in d.log():
        assert time.monotonic() < until, d.log()
        bodies.append(d.request().partition(b"\r\n\r\n")[2])
    log = d.log()
    assert set(bodies) <= {b"pid%d" % pid for pid in old}, (bodies, log)
    assert re.search(rf"\[{new}\] INFO prefork.worker: worker \d: stopped while booting", log), log
    assert set(d.workers()) == set(old)
    assert d.request().startswith(b"HTTP/1.1 200 OK")  # the old generation serves on


def test_a_lifespan_startup_that_completes_as_a_term_comes_runs_its_shutdown(daemons, tmp_path):
    block, release = tmp_path / "block", tmp_path / "release"
    d = daemons(app="apps.asgi_startup_blocks:app", workers=1,
                env={"BLOCK_FILE": str(block), "RELEASE_FILE": str(release)})
    d.wait_ready()
    block.write_text("")
    d.signal(signal.SIGHUP)
    d.wait_log(r"startup blocks in \d+")
    new = int(re.search(r"startup blocks in (\d+)", d.log()).group(1))
    os.kill(new, signal.SIGTERM)  # while the startup blocks the loop: it completes after it
    release.write_text("")
    d.wait_log(rf"worker 0 \(pid {new}\) died")
    log = d.log()
    assert f"startup complete in {new}" in log, log
    assert f"shutdown ran in {new}" in log, log
    assert re.search(rf"\[{new}\] INFO prefork.worker: worker 0: stopped while booting: the ASGI lifespan startup "
                     r"completed as a TERM came", log), log
    assert re.search(rf"worker 0 \(pid {new}\) died \(signal SIGTERM\)", log), log  # it still ended by the TERM
    d.wait_log(r"reload: generation 2 ready")  # its replacement boots (the startup no longer blocks)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0
    wait_until(lambda: "master exiting" in d.log(), 5)
