"""prefork as a container's PID 1 (``unshare --pid --fork --mount-proc``, as a container
runtime starts its entry point): the runtime's TERM and INT stop it gracefully with exit
status 0, and it reaps the processes the apps leave behind, so none stays a zombie.

The runtime signals PID 1 from outside its namespace, as these tests do. Every process
is killed by PID at the end (killing PID 1 ends everything in its namespace)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest

from daemon import alive, children, cmdline, python_env, scratch_dir, wait_until
from harness import read_until_close

APP = "apps.journey_ops:setup"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="a PID namespace needs root and unshare(1)")


def states(ppid):
    """{pid: state letter} of the processes whose parent is ``ppid``, zombies included."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[1]) == ppid:
                found[int(entry)] = fields[0]
    return found


class Pid1:
    """The daemon as PID 1 of a new PID namespace, on a socket bound here (port 0)."""

    def __init__(self, *args):
        self.tmp = scratch_dir("prefork-pid1-")
        self.log_path = os.path.join(self.tmp, "output.log")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self.log_file = open(self.log_path, "wb")
        cmd = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "prefork", APP,
               "--workers", "2", "--bind", f"fd://{sock.fileno()}", "--metrics-bind", "127.0.0.1:0",
               "--access-log", "", "--graceful-timeout", "10", *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     pass_fds=(sock.fileno(),), env=python_env(PYTHONUNBUFFERED=""), cwd=self.tmp)
        sock.close()
        self.master = wait_until(lambda: next((p for p in children(self.proc.pid)
                                               if "prefork: master" in (cmdline(p) or "")), None),
                                 20, what="the master under unshare")

    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def wait_log(self, pattern, timeout=20):
        wait_until(lambda: re.search(pattern, self.log()), timeout, what=f"{pattern!r} in:\n{self.log()}")

    def request(self, path):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return read_until_close(sock)
        finally:
            sock.close()

    def cleanup(self):
        if alive(self.master):
            os.kill(self.master, signal.SIGKILL)  # PID 1: the kernel ends the whole namespace
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.log_file.close()


@pytest.fixture
def pid1():
    started = []

    def start(*args):
        daemon = Pid1(*args)
        started.append(daemon)
        return daemon
    yield start
    for daemon in started:
        daemon.cleanup()


def test_the_master_is_pid_1_of_its_namespace(pid1):
    d = pid1()
    d.wait_log(r"workers ready: 2")
    with open(f"/proc/{d.master}/status") as fh:
        nspid = [line.split()[1:] for line in fh if line.startswith("NSpid:")][0]
    assert nspid[-1] == "1"
    assert re.search(r"\[1\] INFO prefork\.master: workers ready: 2", d.log())


def connections(d):
    port = int(re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", d.log()).group(1))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return json.loads(read_until_close(sock).partition(b"\r\n\r\n")[2])["totals"]["connections"]
    finally:
        sock.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_runtimes_stop_signal_stops_pid_1_with_status_0(pid1, signum):
    d = pid1()
    d.wait_log(r"workers ready: 2")
    answers = []
    in_flight = threading.Thread(target=lambda: answers.append(d.request("/sleep/3")))
    in_flight.start()
    wait_until(lambda: connections(d) >= 1, 20, interval=0.1, what="the request in a worker")
    os.kill(d.master, signum)
    assert d.proc.wait(30) == 0, d.log()
    in_flight.join(30)
    assert "master exiting with status 0" in d.log()
    if signum == signal.SIGTERM:  # a graceful stop finishes the request in flight
        assert answers and answers[0].startswith(b"HTTP/1.1 200 OK"), answers
        assert b"Connection: close" in answers[0]


def test_processes_the_app_abandons_are_reaped_by_pid_1(pid1):
    d = pid1()
    d.wait_log(r"workers ready: 2")
    workers = set(children(d.master))
    for _ in range(5):
        assert d.request("/orphan").startswith(b"HTTP/1.1 200 OK")

    def orphans():
        return {pid: state for pid, state in states(d.master).items() if pid not in workers}
    # each request left a one-second sleep behind, reparented to PID 1 (the master) ...
    assert orphans(), "no orphan was reparented to the master"
    # ... which must reap each as it exits
    wait_until(lambda: not orphans(), 20, interval=0.05, what=f"the orphans reaped: {orphans()}")
    zombies = [pid for pid, state in states(d.master).items() if state == "Z"]
    assert zombies == []
    os.kill(d.master, signal.SIGTERM)
    assert d.proc.wait(30) == 0
