"""gunicorn as the reference peer of the WSGI journey tests: the same app, the same
request, side by side with prefork.

The listen socket is bound here on port 0 and handed over as ``fd://N`` (no guessed
port); every process started (the master and the workers seen) is killed by PID at the
end.
"""

import os
import socket
import subprocess
import sys

import pytest

from daemon import children, kill_all, python_env, scratch_dir, wait_until


class Gunicorn:
    def __init__(self, app, *args, workers=1, threads=1, cwd=None, unix=None):
        pytest.importorskip("gunicorn")
        self.tmp = scratch_dir("gunicorn-test-")
        self.log_path = os.path.join(self.tmp, "error.log")
        sock = socket.socket(socket.AF_UNIX if unix else socket.AF_INET)
        sock.bind(unix or ("127.0.0.1", 0))
        sock.listen(128)
        self.port = None if unix else sock.getsockname()[1]
        cmd = [sys.executable, "-m", "gunicorn", "--bind", f"fd://{sock.fileno()}", "--workers", str(workers),
               "--threads", str(threads), "--no-control-socket", *args, app]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     pass_fds=(sock.fileno(),), env=python_env(), cwd=cwd or self.tmp)
        sock.close()
        self.seen = {self.proc.pid}

    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def wait_ready(self, timeout=30):
        wait_until(lambda: "Booting worker" in self.log() or self.proc.poll() is not None, timeout,
                   what="gunicorn's worker")
        assert self.proc.poll() is None, self.log()
        self.seen.update(children(self.proc.pid))

    def cleanup(self):
        self.seen.update(children(self.proc.pid))
        kill_all(self.proc, self.seen)
        self.log_file.close()


@pytest.fixture
def gunicorns():
    started = []

    def start(*args, **kwargs):
        peer = Gunicorn(*args, **kwargs)
        started.append(peer)
        return peer
    yield start
    for peer in started:
        peer.cleanup()
