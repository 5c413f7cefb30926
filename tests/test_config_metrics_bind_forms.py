"""``metrics_bind`` takes HOST:PORT, [V6]:PORT or fd://N (no UNIX socket): a malformed
one is refused at start with exit status 2 and a message that names only the forms it
takes. Real daemon processes, ended by PID."""

import subprocess
import sys

from daemon import python_env, scratch_dir


def start(*args):
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=python_env(), cwd=scratch_dir("prefork-metrics-forms-"))
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return proc.returncode, out.decode(errors="replace")


def test_a_malformed_metrics_bind_names_only_the_forms_it_takes():
    status, out = start("--bind", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:x")
    assert status == 2, out
    assert "argv:--metrics-bind: 127.0.0.1:x: expected HOST:PORT, [V6]:PORT or fd://N" in out
    assert "unix:" not in out


def test_a_malformed_bind_still_names_unix_sockets():
    status, out = start("--bind", "127.0.0.1:x", "--metrics-bind", "127.0.0.1:0")
    assert status == 2, out
    assert "argv:--bind: 127.0.0.1:x: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N" in out
