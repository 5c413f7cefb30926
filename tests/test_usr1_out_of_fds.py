"""USR1 reaching a worker that is out of file descriptors: the kernel drops the log
descriptors the master hands over (MSG_CTRUNC). The worker says so and moves to the
new files by path once descriptors are free, instead of writing to the rotated files
for good without a word."""

import os
import re
import signal
import socket

from daemon import Daemon, wait_until


def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return b""


def test_a_worker_out_of_descriptors_at_usr1_moves_to_the_new_logs_once_it_has_them():
    d = Daemon("--error-log", "logs/error.log", "--access-log", "logs/access.log", "--access-log-flush", "0",
               workers=1, prefix=["sh", "-c", 'mkdir logs && exec prlimit --nofile=64:4096 -- "$@"', "sh"])
    held = []
    try:
        logs = os.path.join(d.tmp, "logs")
        wait_until(lambda: b"workers ready" in read(os.path.join(logs, "error.log")), 10, what="ready")
        assert b"200 OK" in d.request("/before")
        wait_until(lambda: b"/before" in read(os.path.join(logs, "access.log")), 10, what="a line")
        worker = d.workers()[0]
        for _ in range(100):  # more than the worker's 64 descriptors: it accepts until EMFILE
            held.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        wait_until(lambda: len(os.listdir(f"/proc/{worker}/fd")) >= 63, 10, what="the worker out of descriptors")
        os.rename(os.path.join(logs, "access.log"), os.path.join(logs, "access.log.1"))
        os.rename(os.path.join(logs, "error.log"), os.path.join(logs, "error.log.1"))
        d.signal(signal.SIGUSR1)
        rotated = os.path.join(logs, "error.log.1")
        wait_until(lambda: b"did not arrive" in read(rotated), 10, what="the loss said")
        for sock in held:
            sock.close()
        held = []
        new_error = os.path.join(logs, "error.log")
        wait_until(lambda: re.search(
            rb"USR1: (error and access|access and error) log reopened by path", read(new_error)),
            10, what="the logs reopened by path")
        assert b"200 OK" in d.request("/after")
        access = os.path.join(logs, "access.log")
        wait_until(lambda: b"/after" in read(access), 10, what="the new line in the new file")
        assert b"/after" not in read(os.path.join(logs, "access.log.1"))
        targets = {os.readlink(f"/proc/{worker}/fd/{fd}") for fd in os.listdir(f"/proc/{worker}/fd")}
        assert not {os.path.join(logs, "access.log.1"), rotated} & targets, targets
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        for sock in held:
            sock.close()
        d.cleanup()
