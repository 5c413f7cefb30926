"""A HUP while a USR2's check runs started a reload the re-exec then dropped: the log
said "reload: starting generation 2" and nothing after it. The reload now waits for the
check's outcome (the re-exec reads the configuration anew; a refused one runs the
reload then). A real daemon, real signals; every process is killed by PID at the end."""

import re
import signal


def test_a_hup_during_a_usr2_check_waits_for_it(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    before, = d.wait_workers(1)
    d.signal(signal.SIGUSR2)
    # (sent at once, the two could be pending together: the kernel delivers HUP first)
    d.wait_log(r"USR2: checking the new program")
    d.signal(signal.SIGHUP)
    d.wait_log(r"HUP: a re-exec \(USR2\) is being checked; the reload waits for its outcome")
    d.wait_log(r"workers ready", count=2, timeout=30)  # the re-executed master's
    after, = d.wait_workers(1, timeout=15, exclude=[before])
    assert "reload: starting generation" not in d.log(), d.log()
    assert d.request().startswith(b"HTTP/1.1 200 OK")


def test_a_hup_that_waited_for_a_refused_usr2_runs_then(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 1\n")
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    config.write_text('workers = "many"\n')  # the USR2's check refuses it; so does the reload
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: checking the new program")
    d.signal(signal.SIGHUP)
    d.wait_log(r"HUP: a re-exec \(USR2\) is being checked; the reload waits for its outcome")
    d.wait_log(r"USR2 refused", timeout=30)
    d.wait_log(r"reload refused \(1 problem, above\)", timeout=30)  # it ran, after
    assert re.search(r"reload: .*workers: expected an integer", d.log()), d.log()
    log = d.log()
    assert log.index("USR2 refused") < log.index("reload refused"), log
    assert d.request().startswith(b"HTTP/1.1 200 OK")
