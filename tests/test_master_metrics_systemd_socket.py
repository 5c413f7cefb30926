"""Socket activation passing two sockets, with ``metrics_bind = "fd://4"`` naming the
second: every socket systemd passes serves the app, so that one would be both a bind
listener and the operations endpoints'. It is a configuration problem (status 2, one
``SOURCE:metrics_bind`` line), as ``fd://N`` in both bind and metrics_bind is; it was
a worker's traceback at boot and status 3."""

import os
import socket
import subprocess
import sys

from daemon import python_env

HERE = os.path.dirname(os.path.abspath(__file__))


def test_metrics_bind_naming_a_socket_systemd_passed_is_a_configuration_problem():
    web, ops = socket.socket(), socket.socket()
    for sock in (web, ops):
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    code = ("import fcntl, os, sys, runpy; "  # (copies above 10 first: the passed numbers may be 3 or 4)
            "a, b = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]); "
            "os.dup2(a, 3); os.dup2(b, 4); "
            "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='2', LISTEN_FDNAMES='web:ops'); "
            "sys.argv = ['prefork', '--metrics-bind', 'fd://4', '-w', '1', 'apps.basic:setup']; "
            "runpy.run_module('prefork', run_name='__main__')")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(web.fileno()), str(ops.fileno())],
                             pass_fds=(web.fileno(), ops.fileno()), capture_output=True, text=True, timeout=30,
                             cwd=HERE, env=python_env(), stdin=subprocess.DEVNULL)
    finally:
        web.close()
        ops.close()
    assert out.returncode == 2, out.stderr
    assert "argv:--metrics-bind: fd://4: the same socket as systemd:ops, a bind address" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
