"""Debian's HAProxy as a real peer: started by the test with a generated config, in the
foreground (-db), on sockets the test bound itself and passes as ``fd@N`` (no guessed
ports), or inside a network namespace the test made. Killed by PID at the end.

``show stat`` on the admin socket gives HAProxy's own counts and server states."""

import csv
import io
import os
import signal
import socket
import subprocess

import debian
from daemon import wait_until

BINARY = "/usr/sbin/haproxy"


def binary():
    """(path, None) or (None, why not)."""
    return debian.ensure(BINARY, "haproxy")


class HAProxy:
    def __init__(self, path, tmp, config, pass_fds=(), netns=None):
        self.tmp = tmp
        self.config_path = os.path.join(tmp, "haproxy.cfg")
        self.stats_path = os.path.join(tmp, "haproxy.sock")
        with open(self.config_path, "w") as fh:
            fh.write(config.replace("@STATS@", self.stats_path))
        check = subprocess.run([path, "-c", "-f", self.config_path], capture_output=True, text=True, timeout=30,
                               pass_fds=pass_fds)
        assert check.returncode == 0, check.stdout + check.stderr
        self.log_path = os.path.join(tmp, "haproxy.log")
        cmd = [path, "-db", "-f", self.config_path]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         pass_fds=pass_fds, cwd=tmp)
        if "@STATS@" in config:
            wait_until(self._answers, 20, interval=0.05, what=f"haproxy's stats socket\n{self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"haproxy exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.command("show info").startswith("Name: HAProxy")
        except OSError:
            return False

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(self.stats_path)
            sock.sendall(line.encode() + b"\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return data.decode()
                data += chunk

    def stats(self):
        """``show stat`` as {(proxy, server): row dict}."""
        text = self.command("show stat").lstrip("# ")
        return {(row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text)) if row["pxname"]}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

