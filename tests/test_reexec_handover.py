"""USR2 hands every listener over to the new program: two listeners of one address
(``127.0.0.1:0`` twice, two systemd sockets of one name), and the operations endpoints'
own listener whatever ``metrics_bind`` says (``fd://N``, ``HOST:PORT``, port 0).

Real daemons on loopback, driven with real signals; every process seen is killed by PID
at the end."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest

from daemon import HERE, ROOT, alive, children, cmdline, kill_all, python_env, scratch_dir, wait_until


class Proc:
    """A daemon started with ``argv`` and ``pass_fds``; its log, its processes."""

    def __init__(self, argv, pass_fds=(), env=None):
        self.tmp = scratch_dir("prefork-handover-")
        self.log_path = os.path.join(self.tmp, "log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         pass_fds=pass_fds, env=env or python_env(), cwd=self.tmp)
        self.pid = self.proc.pid
        self.seen = {self.pid}

    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def wait_log(self, pattern, count=1, timeout=20):
        def found():
            if self.proc.poll() is not None and len(re.findall(pattern, self.log())) < count:
                raise AssertionError(f"the daemon exited ({self.proc.returncode}):\n{self.log()}")
            return len(re.findall(pattern, self.log())) >= count
        wait_until(found, timeout, what=lambda: f"{pattern!r} x{count} in the log:\n{self.log()}")

    def note_children(self):
        self.seen.update(children(self.pid))

    def cleanup(self):
        self.note_children()
        kill_all(self.proc, self.seen)


@pytest.fixture
def procs():
    started = []

    def start(*args, **kwargs):
        proc = Proc(*args, **kwargs)
        started.append(proc)
        return proc
    yield start
    for proc in started:
        proc.cleanup()


def listening_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def get(port, path="/", timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def prefork(*args, app="apps.basic:setup"):
    return [sys.executable, "-m", "prefork", app, "--access-log", "", "--graceful-timeout", "5", *args]


def reexec(d):
    """USR2, and wait for the new program's workers (its second 'workers ready')."""
    d.note_children()
    os.kill(d.pid, signal.SIGUSR2)
    d.wait_log(r"USR2: re-executing the master")
    d.wait_log(r"workers ready", count=2)
    d.note_children()
    assert d.proc.poll() is None and alive(d.pid)


# -- 3: listeners of one address ---------------------------------------------------------------------------
def test_usr2_keeps_both_listeners_bound_to_port_0(procs):
    d = procs(prefork("--workers", "1", "--metrics-bind", "", "--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0"))
    d.wait_log(r"workers ready")
    ports = [int(p) for p in re.findall(r"listening at 127\.0\.0\.1:(\d+)", d.log())]
    assert len(set(ports)) == 2
    assert [get(port)[0] for port in ports] == [200, 200]
    reexec(d)
    after = [int(p) for p in re.findall(r"listening at 127\.0\.0\.1:(\d+)", d.log().split("USR2: re-executing the master")[1])]
    assert after == ports  # every socket taken again, in order
    assert [get(port)[0] for port in ports] == [200, 200]


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate missing")
@pytest.mark.parametrize("names", [["web", "web"], []], ids=["same-name", "unnamed"])
def test_usr2_keeps_two_socket_activated_listeners_of_one_name(procs, names):
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    argv = ["systemd-socket-activate", "-l", f"127.0.0.1:{ports[0]}", "-l", f"127.0.0.1:{ports[1]}"]
    for name in names:
        argv += ["--fdname", name]
    argv += ["-E", f"PYTHONPATH={ROOT}{os.pathsep}{HERE}", "--", *prefork("--workers", "1", "--metrics-bind", "")]
    d = procs(argv)
    d.wait_log(r"Listening on")  # systemd-socket-activate's own line: the sockets are bound
    assert [get(port, timeout=20)[0] for port in ports] == [200, 200]  # the first connection starts it
    d.wait_log(r"workers ready")
    reexec(d)
    assert [get(port)[0] for port in ports] == [200, 200]
    name = names[0] if names else "unknown"
    assert len(re.findall(rf"listening at .* \(systemd:{name}\)", d.log().split("USR2: re-executing the master")[1])) == 2


# -- 1: the operations endpoints' listener -------------------------------------------------------------------
@pytest.mark.parametrize("form", ["fd", "port0"])
def test_usr2_hands_the_operations_listener_over_and_probes_are_never_refused(procs, form):
    serving = listening_socket()
    fds = [serving.fileno()]
    args = ["--workers", "1", "--bind", f"fd://{serving.fileno()}"]
    if form == "fd":
        metrics = listening_socket()
        fds.append(metrics.fileno())
        args += ["--metrics-bind", f"fd://{metrics.fileno()}"]
        port = metrics.getsockname()[1]
    else:
        args += ["--metrics-bind", "127.0.0.1:0"]
    d = procs(prefork(*args), pass_fds=fds)
    app_port = serving.getsockname()[1]
    serving.close()
    if form == "fd":
        metrics.close()
    d.wait_log(r"workers ready")
    if form == "port0":
        port = int(re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", d.log()).group(1))
    assert get(port, "/readyz") == (200, "ready\n")
    answers, done = [], threading.Event()

    def probe():  # /healthz all along the re-exec: answered, or waiting in the backlog; never refused
        while not done.is_set():
            try:
                answers.append(get(port, "/healthz", timeout=20)[0])
            except OSError as exc:
                answers.append(repr(exc))
    thread = threading.Thread(target=probe)
    thread.start()
    try:
        wait_until(lambda: len(answers) >= 3, 10, what="probes answered")
        reexec(d)
        count = len(answers)
        wait_until(lambda: len(answers) >= count + 3, 10, what="probes answered after the re-exec")
    finally:
        done.set()
        thread.join(30)
    assert set(answers) == {200}, answers
    assert get(port, "/readyz") == (200, "ready\n")
    assert get(app_port)[0] == 200
    logged = re.findall(r"metrics at http://(\S+)/metrics", d.log())
    assert len(logged) == 2 and logged[0] == logged[1]  # the same socket, not one bound anew
    os.kill(d.pid, signal.SIGTERM)
    assert d.proc.wait(20) == 0


# -- 2: readiness across a re-exec ---------------------------------------------------------------------------
def test_readyz_across_usr2_is_booting_until_the_new_workers_serve_and_never_refused(procs):
    """docs/operations.md: the old workers stop accepting at the exec, so /readyz says
    `booting` until the new program's workers are ready; a probe is never refused."""
    serving = listening_socket()
    d = procs(prefork("--workers", "2", "--bind", f"fd://{serving.fileno()}", "--metrics-bind", "127.0.0.1:0",
                      app="apps.slow_boot:setup"), pass_fds=[serving.fileno()], env=python_env(BOOT_SECONDS="1"))
    serving.close()
    d.wait_log(r"workers ready")
    port = int(re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", d.log()).group(1))
    answers = []
    os.kill(d.pid, signal.SIGUSR2)

    def probe():
        try:
            status, body = get(port, "/readyz", timeout=20)
            answers.append(f"{status} {body.strip()}")
        except OSError as exc:
            answers.append(repr(exc))
        return len(re.findall(r"workers ready", d.log())) >= 2 and answers[-1] == "200 ready"
    wait_until(probe, 30, interval=0.02, what=lambda: f"ready again: {answers[-5:]}\n{d.log()}")
    runs = [answer for i, answer in enumerate(answers) if i == 0 or answers[i - 1] != answer]
    assert runs in (["200 ready", "503 booting", "200 ready"], ["503 booting", "200 ready"]), runs


def test_a_worker_forked_while_the_endpoints_quiesce_holds_none_of_their_connections(procs):
    """TTIN while USR2's quiesce waits for a kept-alive probe connection: the worker forked
    then closes that connection's descriptor with the rest, so after the exec the probe
    reads the end of its connection at once (a copy in the worker would hold it open)."""
    d = procs(prefork("--workers", "1", "--bind", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0",
                      app="apps.slow_boot:setup"),
              env=python_env(BOOT_SECONDS="3"))  # the forked worker outlives the exec by seconds
    d.wait_log(r"workers ready")
    port = int(re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", d.log()).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as probe:
        probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert probe.recv(65536).startswith(b"HTTP/1.1 200 ")  # and kept alive: the quiesce waits on it
        os.kill(d.pid, signal.SIGUSR2)
        checks = lambda: [pid for pid in children(d.pid) if "check-config" in (cmdline(pid) or "")]  # noqa: E731
        wait_until(checks, 20, 0.005, what="the check-config child")
        wait_until(lambda: not checks(), 30, 0.005, what="the check-config child to finish")
        os.kill(d.pid, signal.SIGTTIN)  # a worker forked during the quiesce (it lasts up to 1 s here)
        d.wait_log(r"USR2: re-executing the master")
        d.note_children()
        probe.settimeout(1.0)
        try:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert probe.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass  # ended all the same
    d.wait_log(r"workers ready", count=2)
    d.note_children()
