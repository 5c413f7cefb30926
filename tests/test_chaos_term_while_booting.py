"""TERM while no worker serves yet: just after a USR2 re-exec (the old workers stopped
accepting at the exec, the new program's boot), or at a first start. Connections made
meanwhile wait in the listen backlog (a USR2 refuses none); the graceful stop killed
the booting workers, the only ones that could take them, and every queued connection
was reset although its request had been sent before the TERM. Now, when no worker
serves, the booting ones are let boot (within ``graceful_timeout``) and drain: they take
what the kernel queued, answer it, and exit.

A real daemon, real signals and sockets on 127.0.0.1; every process is killed by PID at
the end (the ``daemons`` fixture)."""

import re
import signal
import socket
import time

from daemon import wait_until
from harness import read_until_close


def send(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return sock


def answer(sock):
    try:
        return read_until_close(sock)
    except OSError as exc:
        return repr(exc).encode()
    finally:
        sock.close()


def test_term_just_after_a_reexec_answers_the_connections_queued_for_the_new_workers(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=2, env={"BOOT_SECONDS": "1"})
    d.wait_ready(timeout=15)
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: re-executing")
    d.wait_log(r"booting worker 1 \(pid \d+, generation 1\)", count=2)  # the new program's, booting
    queued = [send(d.port) for _ in range(8)]
    d.signal(signal.SIGTERM)
    started = time.monotonic()
    answers = [answer(sock) for sock in queued]
    assert all(a.startswith(b"HTTP/1.1 200 OK") for a in answers), answers
    assert d.wait_exit(15) == 0
    assert time.monotonic() - started < 10  # within graceful_timeout
    assert "Traceback" not in d.log()


def test_term_at_a_first_start_answers_what_was_queued(daemons):
    d = daemons("--graceful-timeout", "2", app="apps.slow_boot:setup", workers=1, env={"BOOT_SECONDS": "1"})
    d.wait_log(r"booting worker 0")
    queued = [send(d.port) for _ in range(4)]
    d.signal(signal.SIGTERM)
    answers = [answer(sock) for sock in queued]
    assert all(a.startswith(b"HTTP/1.1 200 OK") for a in answers), answers
    assert d.wait_exit(10) == 0
    # a daemon stopping is not said to be ready (nor told to systemd) when its worker is
    assert "workers ready" not in d.log()


def test_a_boot_that_hangs_holds_the_stop_no_longer_than_graceful_timeout(daemons):
    d = daemons("--graceful-timeout", "1.5", app="apps.slow_boot:setup", workers=1, env={"BOOT_SECONDS": "30"})
    d.wait_log(r"booting worker 0")
    d.signal(signal.SIGTERM)
    started = time.monotonic()
    assert d.wait_exit(10) == 0
    assert time.monotonic() - started < 1.5 + 2
    # (its synchronous set-up: the TERM it gets shortly before the bound ends it by its default action)
    assert re.search(r"still booting; stopping it|did not stop in time; killing it", d.log())
