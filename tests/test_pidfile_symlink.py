"""The pidfile's temporary file is made new under a name nobody can guess: a symlink
planted in the pidfile's directory under the name it used to have (".NAME.PID.tmp",
the PID predictable) made the master, root, write its PID through it into any file."""

import os
import signal

from daemon import Daemon


def test_a_planted_symlink_is_never_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("IMPORTANT\n")
    pidfile = tmp_path / "pf.pid"
    # the master's PID is the shell's ($$): exec keeps it
    plant = f'ln -s {victim} {tmp_path}/.pf.pid.$$.tmp && exec "$@"'
    d = Daemon("--pidfile", str(pidfile), workers=1, prefix=["sh", "-c", plant, "sh"])
    try:
        d.wait_ready()
        assert victim.read_text() == "IMPORTANT\n"
        assert not pidfile.is_symlink() and pidfile.read_text() == f"{d.pid}\n"
        assert oct(pidfile.stat().st_mode & 0o777) in ("0o644", "0o640", "0o600", "0o604")  # per the umask
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
        assert not pidfile.exists()
        assert victim.read_text() == "IMPORTANT\n"
    finally:
        d.cleanup()
