"""A second daemon on one host, both on the default ``metrics_bind``: the second's start
is refused (status 2) with a hint of what to do, not only "address already in use",
since nothing in its own configuration names that address. An address the operator
gave gets the plain message."""

import errno
import os
import socket
import subprocess
import sys

from daemon import python_env

TESTS = os.path.dirname(os.path.abspath(__file__))
DEFAULT = ("127.0.0.1", 9464)


def held_default():
    """A socket listening on the default endpoints' address, or None when another
    program already listens there (in use all the same)."""
    sock = socket.socket()
    try:
        sock.bind(DEFAULT)
    except OSError as exc:
        sock.close()
        assert exc.errno == errno.EADDRINUSE, exc
        return None
    sock.listen(1)
    return sock


def prefork(*args):
    return subprocess.run([sys.executable, "-m", "prefork", "-b", "127.0.0.1:0", "-w", "1", *args,
                           "apps.basic:setup"], capture_output=True, text=True, timeout=60, cwd=TESTS,
                          env=python_env(), stdin=subprocess.DEVNULL)


def test_the_default_metrics_address_taken_is_refused_with_what_to_do():
    held = held_default()
    try:
        out = prefork()
    finally:
        if held is not None:
            held.close()
    assert out.returncode == 2, out.stderr
    assert ("default:metrics_bind: 127.0.0.1:9464: address already in use (the operations endpoints' default "
            "address; another daemon's? set metrics_bind to a free address, or to \"\" to serve none)") \
        in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_an_address_given_taken_gets_the_plain_message():
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    try:
        out = prefork("--metrics-bind", f"127.0.0.1:{port}")
    finally:
        held.close()
    assert out.returncode == 2, out.stderr
    assert f"argv:--metrics-bind: 127.0.0.1:{port}: address already in use\n" in out.stderr, out.stderr
