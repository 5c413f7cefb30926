"""Runs the real daemon (python -m prefork) in a subprocess and drives it.

Every process it starts (the master and each worker seen) is killed by PID at the end.
The listen socket is bound here on port 0 and handed over as fd://N. Its directory
(the daemon's working directory and error log) is removed when the test run ends.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import read_until_close

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_SCRATCH = []  # directories made by scratch_dir, removed when the test run ends
_RUNNING = []  # Daemons started by this process and not cleaned up yet (killed at its exit)


def scratch_dir(prefix):
    """A new directory under the system's temporary one, removed when the test run ends
    (not before: a test may still read a daemon's log after stopping it)."""
    path = tempfile.mkdtemp(prefix=prefix)
    _SCRATCH.append((os.getpid(), path))
    return path


@atexit.register
def _remove_scratch():
    for pid, path in _SCRATCH:
        if pid == os.getpid():  # (a forked child that exits leaves its parent's alone)
            shutil.rmtree(path, ignore_errors=True)


@atexit.register  # (registered last: runs first, before the scratch directories go)
def _kill_leftovers():
    """A daemon whose test never reached its cleanup (a start that timed out inside a helper,
    a fixture that raised) is killed with its workers when the test run ends: only a master
    still running, and the children it has now (PIDs seen earlier may belong to others by then)."""
    for daemon in _RUNNING:
        if daemon.started_by == os.getpid() and daemon.proc.poll() is None:
            kill_all(daemon.proc, children(daemon.pid))


def python_env(**extra):
    """The environment for a prefork subprocess: this checkout and the test apps first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def children(pid):
    """PIDs whose parent is ``pid`` (from /proc)."""
    result = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            result.append(int(entry))
    return result


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        return stat[stat.rfind(")") + 2] != "Z"
    except OSError:
        return False


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            if callable(what):
                what = what()  # described as things stand at the deadline
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class ConfigDaemon:
    """``python -m prefork APP --config CONFIG`` started in ``directory`` (its working
    directory), its output in ``directory/error.log``; as a context manager it kills the
    master and every worker it was seen to have (``note_workers``), by PID, at the end."""

    def __init__(self, directory, config, app="apps.basic:setup", timeout=20):
        self.log_path = directory / "error.log"
        self.timeout = timeout
        self.seen = set()
        with open(self.log_path, "wb") as log_file:
            self.proc = subprocess.Popen([sys.executable, "-m", "prefork", app, "--config", str(config)],
                                         stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                         env=python_env(), cwd=directory)

    def log(self):
        return self.log_path.read_text()

    def wait_log(self, pattern, count=1):
        wait_until(lambda: len(re.findall(pattern, self.log())) >= count, self.timeout,
                   what=lambda: f"{pattern!r} in\n{self.log()}")

    def note_workers(self):
        """The master's children now, remembered for the cleanup."""
        workers = children(self.proc.pid)
        self.seen.update(workers)
        return workers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.note_workers()
        kill_all(self.proc, self.seen)


def kill_all(proc, pids, timeout=10):
    """SIGKILL a started process (a Popen) and every other PID it was seen to have."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout)
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Daemon:
    def __init__(self, *args, app="apps.basic:setup", workers=2, env=None, bind_socket=True, new_session=False,
                 prefix=(), access_log="", graceful_timeout="10"):
        """``prefix``: a command that ends by exec'ing the daemon's (its pid is the master's);
        ``access_log``, ``graceful_timeout`` None: as the configuration says."""
        self.tmp = scratch_dir("prefork-test-")
        self.log_path = os.path.join(self.tmp, "error.log")
        self.sock = None
        pass_fds = ()
        cmd = list(prefix) + [sys.executable, "-m", "prefork"]
        if app:
            cmd.append(app)
        if workers is not None:  # None: as the configuration says
            cmd += ["--workers", str(workers)]
        if access_log is not None:
            cmd += ["--access-log", access_log]
        if graceful_timeout is not None:
            cmd += ["--graceful-timeout", graceful_timeout]
        if "--metrics-bind" not in args:
            cmd += ["--metrics-bind", "127.0.0.1:0"]
        if bind_socket:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(1024)
            self.port = self.sock.getsockname()[1]
            cmd += ["--bind", f"fd://{self.sock.fileno()}"]
            pass_fds = (self.sock.fileno(),)
        cmd += list(args)
        full_env = python_env(**(env or {}))
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     pass_fds=pass_fds, env=full_env, cwd=self.tmp,
                                     start_new_session=new_session)
        self.pid = self.proc.pid
        self.seen = {self.pid}
        self.started_by = os.getpid()
        _RUNNING.append(self)
        if self.sock is not None:
            self.sock.close()  # the daemon has its own copy now

    # -- observing -----------------------------------------------------------------------
    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def workers(self):
        pids = [p for p in children(self.pid) if "prefork: worker" in (cmdline(p) or "")]
        self.seen.update(pids)
        return sorted(pids)

    def metrics_port(self):
        self.wait_log(r"metrics at http://127\.0\.0\.1:\d+/metrics")
        return int(re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", self.log()).group(1))

    def scrape(self):
        """The metrics, parsed with prometheus_client's parser: {(name, labels): value}."""
        from prometheus_client.parser import text_string_to_metric_families
        sock = socket.create_connection(("127.0.0.1", self.metrics_port()), timeout=5)
        try:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(sock)
        finally:
            sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), head
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def serving_workers(self):
        """Workers not draining."""
        return [p for p in self.workers() if "draining" not in (cmdline(p) or "")]

    def wait_log(self, pattern, timeout=10, count=1):
        return wait_until(lambda: len(re.findall(pattern, self.log())) >= count, timeout,
                          what=lambda: f"{pattern!r} in the log:\n{self.log()}")

    def wait_workers(self, n, timeout=10, exclude=()):
        return wait_until(lambda: (lambda w: w if len(w) == n and not set(w) & set(exclude) else None)(
            self.serving_workers()), timeout, what=f"{n} workers")

    def wait_ready(self, n=None, timeout=10):
        self.wait_log(r"workers ready", timeout)

    def signal(self, signum):
        os.kill(self.pid, signum)

    def request(self, path="/", timeout=5):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return read_until_close(sock)
        finally:
            sock.close()

    # -- ending --------------------------------------------------------------------------------
    def wait_exit(self, timeout=15):
        return self.proc.wait(timeout)

    def cleanup(self):
        self.workers()
        kill_all(self.proc, self.seen)
        self.log_file.close()
        if self in _RUNNING:
            _RUNNING.remove(self)


class ProtocolError(Exception):
    pass


def read_response(sock, state):
    """One response (Content-Length framed); state["bytes"] counts bytes seen."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ProtocolError(f"closed after {len(data)} bytes of a head")
        state["bytes"] += len(chunk)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"\r\ncontent-length: (\d+)", head, re.I)
    if not head.startswith(b"HTTP/1.1 200 ") or not match:
        raise ProtocolError(f"unexpected head {head!r}")
    length = int(match.group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ProtocolError("closed inside a body")
        state["bytes"] += len(chunk)
        body += chunk
    return head, body


class Load:
    """Client threads hammering the daemon: half on keep-alive connections, half with a
    new connection per request. A request may be retried only when it failed on a reused
    keep-alive connection before any byte of its response arrived (as urllib3 and
    browsers do); any other error is a failure. Bounded in count and time."""

    def __init__(self, port, threads=4, max_requests=200000, max_seconds=60, path="/"):
        self.port = port
        self.path = path
        self.ok = 0
        self.retries = 0
        self.failures = []
        self.pids = set()
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.threads = [threading.Thread(target=self.run, args=(i % 2 == 0,), daemon=True)
                        for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def run(self, keep_alive):
        sock = None
        reused = False
        request = (f"GET {self.path} HTTP/1.1\r\nHost: x\r\n" + ("" if keep_alive else "Connection: close\r\n")
                   + "\r\n").encode()
        while not self.stop_event.is_set() and self.ok < self.max_requests and time.monotonic() < self.deadline:
            state = {"bytes": 0}
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                    reused = False
                sock.sendall(request)
                head, body = read_response(sock, state)
                with self.lock:
                    self.ok += 1
                    self.pids.add(body)
                if not keep_alive or b"connection: close" in head.lower():
                    sock.close()
                    sock = None
                else:
                    reused = True
            except (OSError, ProtocolError) as exc:
                if sock is not None:
                    sock.close()
                sock = None
                with self.lock:
                    if reused and state["bytes"] == 0:
                        self.retries += 1
                    else:
                        self.failures.append(f"{type(exc).__name__}: {exc}")
        if sock is not None:
            sock.close()

    def wait_count(self, n, timeout=30):
        wait_until(lambda: self.ok >= n or self.failures, timeout, what=f"{n} requests")

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(15)
