"""``/dev/stdout`` (and ``/dev/stderr``, ``/dev/fd/N``) as a log path is the daemon's
own descriptor, copied, never the path opened again: under systemd's journal stdout
is a UNIX socket (opening /dev/stdout fails with ENXIO), and stdout redirected to a
file must keep one offset for every writer (a second description overwrote lines).
Real daemons, real sockets; every process is killed by PID at the end."""

import os
import re
import signal
import socket
import sys

from daemon import wait_until

# the prefix: stdout becomes a connected UNIX socket (the journal's stream), then the daemon
TO_SOCKET = ("import os, socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
             "os.dup2(s.fileno(), 1); os.execv(sys.argv[2], sys.argv[2:])")


def test_dev_stdout_on_a_unix_socket_takes_the_lines(daemons, tmp_path):
    path = str(tmp_path / "journal.sock")
    journal = socket.socket(socket.AF_UNIX)
    journal.bind(path)
    journal.listen(1)
    journal.settimeout(30)
    d = daemons("--access-log", "/dev/stdout", "--access-log-flush", "0", workers=1,
                prefix=(sys.executable, "-c", TO_SOCKET, path))
    stream, _ = journal.accept()
    journal.close()
    received = bytearray()

    def read_until(text):
        def got():
            stream.settimeout(0.05)
            try:
                received.extend(stream.recv(65536))
            except (socket.timeout, BlockingIOError):
                pass
            return text in received
        wait_until(got, 10, what=lambda: f"{text!r} on the socket: {bytes(received)!r}\n{d.log()}")

    try:
        d.wait_ready(timeout=30)
        assert b"200 OK" in d.request("/first")
        read_until(b'"GET /first HTTP/1.1" 200')
        d.signal(signal.SIGUSR1)
        d.wait_log(r"log files reopened\n")
        assert b"200 OK" in d.request("/after-usr1")
        read_until(b'"GET /after-usr1 HTTP/1.1" 200')
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        stream.close()


def test_dev_stdout_on_a_file_shares_its_offset_with_the_error_log(daemons):
    # the daemon's stdout and stderr: one file opened without O_APPEND (a shell's > file 2>&1)
    d = daemons("--interface", "asgi", "--access-log", "/dev/stdout", "--access-log-flush", "0",
                app="apps.asgi_apps:app", workers=1)
    d.wait_ready(timeout=30)
    for i in range(5):
        assert b"500 " in d.request(f"/raise-before?{i}")  # traceback lines on fd 2
        assert b"200 OK" in d.request(f"/hello?{i}")  # an access line on /dev/stdout
    d.signal(signal.SIGUSR1)
    d.wait_log(r"log files reopened\n")
    assert b"200 OK" in d.request("/after-usr1")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    log = d.log()
    access = re.findall(r'(?m)^127\.0\.0\.1 - - \[[^\]]+\] "GET (\S+) HTTP/1\.1" (\d+) ', log)
    assert sorted(access) == sorted([(f"/raise-before?{i}", "500") for i in range(5)]
                                    + [(f"/hello?{i}", "200") for i in range(5)] + [("/after-usr1", "200")]), log
    assert len(re.findall(r"(?m)^\S+ \S+ \[\d+\] ERROR prefork\.asgi: Exception in ASGI application "
                          r"\(GET /raise-before\?\d\)$", log)) == 5, log
    assert log.count("RuntimeError: the ASGI app broke before starting") == 5, log
    assert "master exiting with status 0" in log
    assert os.path.getsize(d.log_path) == len(log.encode())


def test_a_descriptor_that_is_not_open_is_refused_at_start(tmp_path):
    import subprocess
    from daemon import python_env
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--access-log", "/dev/fd/57",
                          "--metrics-bind", ""], capture_output=True, text=True, timeout=30, cwd=tmp_path,
                         env=python_env(), stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "argv:--access-log: /dev/fd/57: descriptor 57 is not open" in out.stderr, \
        out.stderr
