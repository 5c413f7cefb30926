"""GUNICORN_CMD_ARGS is ignored with a warning listing the flags to give prefork. Its
bind addresses were listed as gunicorn spells them, forms prefork refuses (``tcp://``, a
host without a port) or, for ``unix://app.sock``, binds elsewhere: gunicorn reads it as
``app.sock``, here it is ``//app.sock``. They are listed in prefork's spelling of what
gunicorn binds (its ``parse_address``: ``tcp://`` dropped, ``unix://PATH`` is PATH, a
host alone is on port 8000), so the flags given back are taken and mean gunicorn's.

Real ``prefork check-config`` processes, each waited for."""

import shlex
import subprocess
import sys

from daemon import python_env

GIVEN = "-b localhost --bind=tcp://127.0.0.1:8001 -b [::1] -b unix://app.sock --bind unix:///run/a.sock -w 2"
LISTED = ("-b localhost:8000 --bind=127.0.0.1:8001 -b '[::1]:8000' -b unix:app.sock --bind unix:/run/a.sock "
          "-w 2")


def prefork(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=60,
                          env=python_env(**(env or {})), stdin=subprocess.DEVNULL, cwd=cwd)


def test_gunicorn_cmd_args_binds_are_listed_as_gunicorn_reads_them_and_prefork_takes_them(tmp_path):
    proc = prefork("check-config", env={"GUNICORN_CMD_ARGS": GIVEN}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == (f"warning: env:GUNICORN_CMD_ARGS: gunicorn's, ignored: give prefork "
                                           f"the flags ({LISTED}), or PREFORK_<NAME> variables"), proc.stderr
    proc = prefork("check-config", *shlex.split(LISTED), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ('bind = ["localhost:8000", "127.0.0.1:8001", "[::1]:8000", "unix:app.sock", "unix:/run/a.sock"]'
            '  # argv:--bind') in proc.stdout.splitlines(), proc.stdout
