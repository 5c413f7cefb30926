"""A ``metrics_bind`` whose port one of the daemon's own bind addresses holds (a wildcard
beside a specific address of the same port) is refused naming that bind address, as two
bind addresses in that case name each other: "address already in use" alone sends the
operator looking for another program, and there is none once the daemon has exited."""

import socket
import subprocess
import sys

from daemon import python_env


def test_metrics_on_the_port_of_a_bind_address_names_it():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port, fd = sock.getsockname()[1], sock.fileno()
    try:
        proc = subprocess.run([sys.executable, "-m", "prefork", "--bind", f"fd://{sock.fileno()}", "--metrics-bind",
                               f"0.0.0.0:{port}", "--workers", "1"], capture_output=True, text=True, timeout=30,
                              env=python_env(), stdin=subprocess.DEVNULL, pass_fds=(sock.fileno(),))
    finally:
        sock.close()
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"argv:--metrics-bind: 0.0.0.0:{port}: address already in use (by fd://{fd}, a bind address)"], \
        proc.stderr
