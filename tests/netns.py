"""A test bed of Linux network namespaces made by the test itself (root and ``ip`` needed).

One namespace holds the load balancer side: a bridge ``br0`` with ``10.213.1.1/24``;
each "host" is a namespace of its own whose ``eth0`` (a veth pair made straight into
the two namespaces) has ``10.213.1.<10+i>/24``. The addresses live only inside these
namespaces: nothing is added to the test machine's own interfaces or routes, so any
fixed port inside them is free. Namespace names carry the test run's PID and a random
part, so concurrent runs never meet. ``cleanup()`` kills every process started in the
bed by PID and deletes every namespace (their veths go with them).

The test process reaches into a namespace through ``connect(ns, address)``: a thread
joins the namespace (setns(2) changes only the calling thread's namespace), makes and
connects the socket there, and hands it back; the socket stays in that namespace.
"""

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading

from daemon import alive, children

CLONE_NEWNET = 0x40000000
SUBNET = "10.213.1"
BALANCER = f"{SUBNET}.1"


def unavailable():
    """Why a bed cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no ip command (Debian package iproute2)"
    probe = f"pfprobe{os.getpid()}{secrets.token_hex(2)}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def run(*args):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class Bed:
    def __init__(self, hosts=3):
        self.tag = f"pf{os.getpid()}{secrets.token_hex(3)}"
        self.balancer = f"{self.tag}-lb"
        self.namespaces = []
        self.hosts = []  # (namespace, address)
        self.processes = []  # Popen objects, killed at cleanup with their children
        try:
            self._add(self.balancer)
            run("ip", "-n", self.balancer, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", self.balancer, "addr", "add", f"{BALANCER}/24", "dev", "br0")
            run("ip", "-n", self.balancer, "link", "set", "br0", "up")
            for i in range(hosts):
                ns = f"{self.tag}-h{i}"
                address = f"{SUBNET}.{10 + i}"
                self._add(ns)
                run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"h{i}",
                    "netns", self.balancer)
                run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
                run("ip", "-n", ns, "link", "set", "eth0", "up")
                run("ip", "-n", self.balancer, "link", "set", f"h{i}", "master", "br0")
                run("ip", "-n", self.balancer, "link", "set", f"h{i}", "up")
                self.hosts.append((ns, address))
        except BaseException:
            self.cleanup()
            raise

    def _add(self, ns):
        run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")

    def popen(self, ns, cmd, **kwargs):
        """A process inside ``ns`` (``ip netns exec`` execs it: the PID is the command's)."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd), stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append(proc)
        return proc

    def cleanup(self):
        for proc in self.processes:
            kill_tree(proc.pid)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.namespaces = []


def kill_tree(pid, signum=signal.SIGKILL):
    """``pid`` and everything below it, found in /proc before any is signalled."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children(current))
    for each in found:
        if alive(each):
            try:
                os.kill(each, signum)
            except ProcessLookupError:
                pass
    return found


def connect(ns, address, timeout=5.0):
    """A TCP socket connected to ``address`` from inside namespace ``ns``."""
    box = {}

    def inside():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            finally:
                os.close(fd)
            box["sock"] = socket.create_connection(address, timeout=timeout)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc
    thread = threading.Thread(target=inside)  # a fresh thread: it ends in the namespace
    thread.start()
    thread.join(timeout + 5)
    if "error" in box:
        raise box["error"]
    return box["sock"]


def http_get(ns, address, path, timeout=5.0):
    """(status, body) of a GET from inside ``ns``; (None, reason) when it cannot connect."""
    try:
        sock = connect(ns, address, timeout)
    except OSError as exc:
        return None, str(exc)
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            return None, str(exc)
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ", 2)[1]), body
    except (IndexError, ValueError):
        return None, data
