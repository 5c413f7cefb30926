"""The directory prefork was started in, kept by its path: a deploy that removes it and
puts a new one in its place (``rm -rf /opt/prefork/app && cp -r build /opt/prefork/app``,
the unit's WorkingDirectory) is followed by a reload, or a symbolic link swapped to a new
release when started from a shell ($PWD, as gunicorn reads it). One removed for good
stops neither a reload nor a worker's replacement when the app is found elsewhere (an
installed package, PYTHONPATH), and a USR2 is refused saying so."""

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from daemon import alive, children, python_env, wait_until
from harness import read_until_close

APP = '''
VERSION = "{version}"


def setup(server):
    server.on("request", lambda req, res: res.end(VERSION))
'''


class Started:
    """``python -m prefork`` started in ``cwd`` on a pre-bound socket, its output in ``log``."""

    def __init__(self, tmp_path, cwd, app, env=None):
        self.log_path = tmp_path / "out.log"
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prefork", app, "--workers", "1", "--metrics-bind", "", "--access-log", "",
                 "--bind", f"fd://{self.sock.fileno()}"], cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, pass_fds=(self.sock.fileno(),), env=python_env(**(env or {})))
        self.sock.close()
        self.seen = {self.proc.pid}

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text, count=1):
        wait_until(lambda: self.log().count(text) >= count, 15, what=lambda: f"{text!r} in:\n{self.log()}")

    def workers(self):
        found = children(self.proc.pid)
        self.seen.update(found)
        return found

    def get(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return read_until_close(sock)
        finally:
            sock.close()

    def stop(self):
        self.workers()
        for pid in self.seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def started():
    made = []
    yield lambda *args, **kwargs: made.append(Started(*args, **kwargs)) or made[-1]
    for one in made:
        one.stop()


def test_a_reload_follows_a_start_directory_a_deploy_replaced(tmp_path, started):
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "deployed.py").write_text(APP.format(version="release 1"))
    daemon = started(tmp_path, app_dir, "deployed:setup")
    daemon.wait_log("workers ready")
    assert daemon.get().endswith(b"release 1")
    shutil.rmtree(app_dir)  # the deploy: a new copy where the old one was
    app_dir.mkdir()
    (app_dir / "deployed.py").write_text(APP.format(version="release 2"))
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("generation 2 ready")
    # (an old worker told to drain just now may still take a connection: the new code is
    # served once it has left)
    wait_until(lambda: daemon.get().endswith(b"release 2"), 10, what="the new copy served")
    assert "Traceback" not in daemon.log()


def test_a_reload_follows_a_release_link_swapped_under_the_shells_path(tmp_path, started):
    for release in ("1", "2"):
        (tmp_path / release).mkdir()
        (tmp_path / release / "deployed.py").write_text(APP.format(version=f"release {release}"))
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "1")
    daemon = started(tmp_path, current, "deployed:setup", env={"PWD": str(current)})  # as a shell's cd sets it
    daemon.wait_log("workers ready")
    assert daemon.get().endswith(b"release 1")
    (tmp_path / "next").symlink_to(tmp_path / "2")
    os.replace(tmp_path / "next", current)
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("generation 2 ready")
    wait_until(lambda: daemon.get().endswith(b"release 2"), 10, what="the new release served")


def test_a_start_directory_removed_for_good_stops_no_reload_nor_replacement(tmp_path, started):
    gone = tmp_path / "gone"
    gone.mkdir()
    daemon = started(tmp_path, gone, "apps.basic:setup")  # the app found on PYTHONPATH
    daemon.wait_log("workers ready")
    shutil.rmtree(gone)
    (worker,) = daemon.workers()
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: daemon.workers() and daemon.workers() != [worker] and "workers ready: 1" in daemon.log(), 10,
               what="a replacement")
    assert daemon.get().startswith(b"HTTP/1.1 200 OK")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("generation 2 ready")
    assert daemon.get().startswith(b"HTTP/1.1 200 OK")
    daemon.proc.send_signal(signal.SIGUSR2)
    daemon.wait_log(f"USR2 refused: {gone}, the directory prefork was started in, is gone")
    assert daemon.get().startswith(b"HTTP/1.1 200 OK")
    assert "failed to load" not in daemon.log() and "Traceback" not in daemon.log(), daemon.log()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(15) == 0
