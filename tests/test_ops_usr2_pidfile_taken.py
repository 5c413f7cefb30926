"""A USR2 whose new configuration names a pidfile another running prefork master holds
is refused by the new program's check: the new program would refuse to start on it
("prefork is already running") and exit with status 2, taking the daemon down."""

import signal

from daemon import wait_until


def test_usr2_onto_another_masters_pidfile_is_refused(daemons, tmp_path):
    other = daemons("--pidfile", str(tmp_path / "other.pid"), workers=1)
    other.wait_ready()
    config = tmp_path / "prefork.toml"
    config.write_text(f'pidfile = "{tmp_path}/mine.pid"\n')
    d = daemons("--config", str(config), workers=1)
    d.wait_ready()
    config.write_text(f'pidfile = "{tmp_path}/other.pid"\n')
    d.signal(signal.SIGUSR2)
    wait_until(lambda: "USR2 refused" in d.log() or d.log().count("workers ready") >= 2 or d.proc.poll() is not None,
               30, what=lambda: f"the USR2's outcome:\n{d.log()}")
    assert d.proc.poll() is None, d.log()
    assert f"other.pid: prefork is already running as pid {other.pid}" in d.log(), d.log()
    assert (tmp_path / "mine.pid").read_text().strip() == str(d.pid)
    assert (tmp_path / "other.pid").read_text().strip() == str(other.pid)
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    # the unchanged pidfile, its own, passes the check
    config.write_text(f'pidfile = "{tmp_path}/mine.pid"\n')
    d.signal(signal.SIGUSR2)
    d.wait_log(r"workers ready", count=2, timeout=30)
    assert d.proc.poll() is None, d.log()
    assert (tmp_path / "mine.pid").read_text().strip() == str(d.pid)
    for daemon in (d, other):
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(20) == 0
