"""A PROXY protocol header sent to a listener without ``proxy_protocol`` (a balancer's
``send-proxy`` towards a plain port) is refused with a 400 as before, but the mistake
shows: the access log writes a version 1 header's line as the request line (as nginx
does), and the error log says once (per interval, per worker) that a PROXY header came
to a listener without proxy_protocol, for version 1 and version 2 alike. A line that
starts with PROXY in a later request of a connection is no balancer's header. A real
daemon, its access log written at once."""

import socket

from daemon import Daemon, wait_until
from hostile import exchange
from logline import LINE, log_lines, unescape

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
V1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n"
V2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes([203, 0, 113, 7, 10, 0, 0, 1, 0x15, 0xb3, 0, 80])
WARNING = r"WARNING prefork\.server: a PROXY protocol \(v%d\) header came from 127\.0\.0\.1 to 127\.0\.0\.1:%d, " \
          r"a listener without proxy_protocol"


def _request_lines(path, count):
    lines = wait_until(lambda: len(log_lines(path)) >= count and log_lines(path), 10, what="the access log lines")
    logged = []
    for line in lines:
        match = LINE.fullmatch(line)
        assert match, line
        logged.append((unescape(match.group(3)), match.group(4)))
    return logged


def _split_exchange(port, first, rest):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(first)  # (two reads, most often; one read has the same outcome)
        sock.sendall(rest)
        return b"".join(iter(lambda: sock.recv(65536), b""))
    except ConnectionResetError:
        return b"HTTP/1.1 400 (reset)"
    finally:
        sock.close()


def test_a_proxy_header_on_a_plain_listener_is_logged_as_such(tmp_path):
    path = str(tmp_path / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", workers=1, access_log=None)
    try:
        d.wait_ready(timeout=30)
        assert exchange(d.port, V1 + REQUEST).startswith(b"HTTP/1.1 400 ")
        assert exchange(d.port, b'PROXY TCP4 "x"\x01 1.2.3.4 1 2\r\n' + REQUEST).startswith(b"HTTP/1.1 400 ")
        assert exchange(d.port, V2 + REQUEST).startswith(b"HTTP/1.1 400 ")
        # a later request's line that starts with PROXY: no header, logged as before
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            sock.sendall(REQUEST)
            got = wait_until(lambda: (lambda data: data if data.endswith(b"pid %d" % d.workers()[0]) else None)(
                sock.recv(65536)), 10, what="the first response")
            assert got.startswith(b"HTTP/1.1 200 "), got
            sock.sendall(V1)
            assert b"".join(iter(lambda: sock.recv(65536), b"")).startswith(b"HTTP/1.1 400 ")
        finally:
            sock.close()
        logged = _request_lines(path, 5)
        assert logged == [(V1[:-2], "400"), (b'PROXY TCP4 "x"\x01 1.2.3.4 1 2', "400"),
                          (b"-", "400"), (b"GET / HTTP/1.1", "200"), (b"-", "400")], logged
        d.wait_log(WARNING % (1, d.port))
        d.wait_log(WARNING % (2, d.port))
        d.wait_log(r"turn on proxy_protocol or name the listener in proxy_protocol_bind")
        log = d.log()
        assert len([line for line in log.splitlines() if "(v1) header came" in line]) == 1, log  # once per interval
        assert len([line for line in log.splitlines() if "(v2) header came" in line]) == 1, log
    finally:
        d.cleanup()


def test_a_proxy_header_split_over_reads_is_logged_with_its_whole_line(tmp_path):
    path = str(tmp_path / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", "--interface", "wsgi", app="apps.wsgi_apps:hello",
               workers=1, access_log=None)
    try:
        d.wait_ready(timeout=30)
        assert _split_exchange(d.port, b"PRO", V1[3:] + REQUEST).startswith(b"HTTP/1.1 400 ")
        assert _request_lines(path, 1) == [(V1[:-2], "400")]
        d.wait_log(WARNING % (1, d.port))
    finally:
        d.cleanup()


def test_a_second_proxy_header_on_a_proxy_protocol_listener_is_not_called_a_plain_listener_s(tmp_path):
    d = Daemon("--proxy-protocol", "--proxy-allow-ips", "127.0.0.1", workers=1)
    try:
        d.wait_ready(timeout=30)
        assert exchange(d.port, V1 + V1 + REQUEST).startswith(b"HTTP/1.1 400 ")
        d.wait_log(r"WARNING prefork\.server: a second PROXY protocol \(v1\) header came from 127\.0\.0\.1 to "
                   r"127\.0\.0\.1:%d, after the one the proxy_protocol listener read" % d.port)
        assert "a listener without proxy_protocol" not in d.log()
    finally:
        d.cleanup()
