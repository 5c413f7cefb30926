"""The details of what a misplaced PROXY protocol header leaves in the logs: a second
header after a first that named no client (``PROXY UNKNOWN``, a v2 ``LOCAL``) is still a
second header on a proxy_protocol listener; listeners are named as the master names
them (``[::1]:port``, ``unix:/path``); a custom access-log format's ``{m}`` and ``{U}`` of
a PROXY line are ``-`` (nginx logs the line as ``$request`` only). A real daemon."""

import os
import re
import socket

from daemon import Daemon, wait_until
from hostile import exchange

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
V1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n"
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2 = SIGNATURE + b"\x21\x11\x00\x0c" + bytes([203, 0, 113, 7, 10, 0, 0, 1, 0x15, 0xb3, 0, 80])
V2_LOCAL = SIGNATURE + b"\x20\x00\x00\x00"  # version 2, LOCAL, no address


def _exchange_unix(path, data):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    try:
        sock.connect(path)
        sock.sendall(data)
        return b"".join(iter(lambda: sock.recv(65536), b""))
    finally:
        sock.close()


def test_a_second_header_after_one_naming_no_client_is_called_a_second_header():
    d = Daemon("--proxy-protocol", "--proxy-allow-ips", "127.0.0.1", workers=1)
    try:
        d.wait_ready(timeout=30)
        assert exchange(d.port, b"PROXY UNKNOWN\r\n" + V1 + REQUEST).startswith(b"HTTP/1.1 400 ")
        assert exchange(d.port, V2_LOCAL + V2 + REQUEST).startswith(b"HTTP/1.1 400 ")
        for version in (1, 2):
            d.wait_log(r"WARNING prefork\.server: a second PROXY protocol \(v%d\) header came from 127\.0\.0\.1 to "
                       r"127\.0\.0\.1:%d, after the one the proxy_protocol listener read" % (version, d.port))
        assert "a listener without proxy_protocol" not in d.log()
    finally:
        d.cleanup()


def test_the_warning_names_ipv6_and_unix_listeners_as_the_master_does(tmp_path):
    path = str(tmp_path / "s.sock")
    d = Daemon("--bind", f"unix:{path}", "--bind", "[::1]:0", workers=1)
    try:
        d.wait_ready(timeout=30)
        wait_until(lambda: os.path.exists(path), 10, what="the UNIX listener")
        assert _exchange_unix(path, V1 + REQUEST).startswith(b"HTTP/1.1 400 ")
        six = socket.socket(socket.AF_INET6)
        six.settimeout(10)
        try:
            port = wait_until(lambda: _ipv6_port(d), 10, what="the IPv6 listener's port")
            six.connect(("::1", port))
            six.sendall(V2 + REQUEST)
            assert b"".join(iter(lambda: six.recv(65536), b"")).startswith(b"HTTP/1.1 400 ")
        finally:
            six.close()
        d.wait_log(r"a PROXY protocol \(v1\) header came from a UNIX socket peer to unix:%s, a listener without "
                   r"proxy_protocol" % re.escape(path))
        d.wait_log(r"a PROXY protocol \(v2\) header came from ::1 to \[::1\]:%d, a listener without "
                   r"proxy_protocol" % port)
        assert "None" not in "".join(line for line in d.log().splitlines() if "PROXY protocol" in line)
    finally:
        d.cleanup()


def _ipv6_port(d):
    """The port the kernel gave the [::1]:0 listener (the worker's listening socket)."""
    for worker in d.workers():
        for fd in os.listdir(f"/proc/{worker}/fd"):
            try:
                target = os.readlink(f"/proc/{worker}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = target[8:-1]
                with open("/proc/net/tcp6") as fh:
                    for row in fh.read().splitlines()[1:]:
                        cols = row.split()
                        if cols[9] == inode and cols[3] == "0A":  # LISTEN
                            return int(cols[1].rsplit(":", 1)[1], 16)
    return None


def test_a_custom_format_logs_a_proxy_line_s_method_and_uri_as_dashes(tmp_path):
    path = str(tmp_path / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", "--access-log-format", "{m}|{U}|{r}|{s}",
               workers=1, access_log=None)
    try:
        d.wait_ready(timeout=30)
        assert exchange(d.port, V1 + REQUEST).startswith(b"HTTP/1.1 400 ")
        assert exchange(d.port, REQUEST).startswith(b"HTTP/1.1 200 ")
        lines = wait_until(lambda: (lambda text: text if text.count("\n") >= 2 else None)(
            open(path).read() if os.path.exists(path) else ""), 10, what="two access log lines")
        assert lines.splitlines() == ["-|-|PROXY TCP4 203.0.113.7 10.0.0.1 5555 80|400", "GET|/|GET / HTTP/1.1|200"]
    finally:
        d.cleanup()
