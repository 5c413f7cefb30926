"""A gunicorn access log format whose atoms have no prefork field is refused naming
those atoms (it named none: the operator had to guess which). Real ``prefork``
runs."""

import subprocess
import sys

from daemon import python_env


def test_a_gunicorn_format_with_atoms_prefork_lacks_names_them(tmp_path):
    fmt = '%(h)s %(T)s "%(r)s" %(M)s %({x-request-id}i)s %({HOME}e)s %(T)s %(q)s'
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--access-log-format", fmt,
                          "--metrics-bind", ""], capture_output=True, text=True, timeout=30, cwd=tmp_path,
                         env=python_env(), stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [
        "argv:--access-log-format: gunicorn's %(x)s fields are not read here, prefork's are written {x} ({D}, {L}, "
        "{U}, {a}, {b}, {f}, {h}, {m}, {p}, {r}, {s}, {t}, {i[name]}, {o[name]}); no field here for %(T)s, %(M)s, "
        "%({HOME}e)s, %(q)s (docs/gunicorn.md)"], out.stderr
