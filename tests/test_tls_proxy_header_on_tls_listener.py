"""A PROXY protocol header sent to a TLS listener without ``proxy_protocol`` (a balancer's
``send-proxy-v2 ssl`` towards a port that does not expect the header) is refused as on a
plain listener: a 400 in the clear whose text names the PROXY header (not "plain HTTP"),
the access log writes a version 1 header's line as the request line, and the error log
warns once (per interval, per worker) for version 1 and version 2 alike. A version 2
header was closed without a word and a version 1 one was told it was plain HTTP, with
nothing above debug in the error log. On a ``proxy_protocol`` TLS listener, a second
header after the one it read is named as such."""

import os
import socket

from daemon import Daemon, wait_until
from harness import read_until_close
from test_hostile_net_tls import pki  # noqa: F401  (a fixture)

V1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n"
V2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes([203, 0, 113, 7, 10, 0, 0, 1, 0x15, 0xb3, 1, 0xbb])
HELLO_START = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"r" * 32  # a ClientHello's first bytes
WARNING = r"WARNING prefork\.server: a PROXY protocol \(v%d\) header came from 127\.0\.0\.1 to 127\.0\.0\.1:%d, " \
          r"a TLS listener without proxy_protocol"


def _answer(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return read_until_close(sock)


def test_a_proxy_header_on_a_tls_listener_gets_a_400_naming_it_and_a_warning(pki, tmp_path):  # noqa: F811
    access = str(tmp_path / "access.log")
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--access-log-flush", "0.1",
                    app="apps.basic:setup", workers=1, access_log=access)
    try:
        daemon.wait_ready()
        # (a header's first 5 bytes alone: what OpenSSL had read when it refused a slow sender's)
        for data in (V1 + HELLO_START, V2 + HELLO_START, V2[:6], V1[:5], V1[:20]):
            head, _, body = _answer(daemon.port, data).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in head, (data, head)
            assert b"PROXY protocol header" in body and b"plain HTTP" not in body, body
        lines = lambda: open(access).read().splitlines() if os.path.exists(access) else []  # noqa: E731
        wait_until(lambda: len(lines()) >= 3, 15, what="the three access log lines")
        assert f'"{V1[:-2].decode()}" 400 ' in lines()[0], lines()
        assert '"-" 400 ' in lines()[1] and '"-" 400 ' in lines()[2], lines()
        daemon.wait_log(WARNING % (1, daemon.port))
        daemon.wait_log(WARNING % (2, daemon.port))
        log = daemon.log()
        assert len([line for line in log.splitlines() if "(v2) header came" in line]) == 1, log  # once per interval
        # a plain request is still told it came in plain HTTP
        body = _answer(daemon.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").partition(b"\r\n\r\n")[2]
        assert body.startswith(b"This port speaks HTTPS; the request came in plain HTTP"), body
    finally:
        daemon.cleanup()


def test_a_second_proxy_header_on_a_proxy_protocol_tls_listener_is_named_as_such(pki):  # noqa: F811
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--proxy-protocol", "--proxy-allow-ips",
                    "127.0.0.1", app="apps.basic:setup", workers=1)
    try:
        daemon.wait_ready()
        head = _answer(daemon.port, V2 + V1 + HELLO_START)
        assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), head
        daemon.wait_log(r"a second PROXY protocol \(v1\) header came from 127\.0\.0\.1 to 127\.0\.0\.1:%d, after "
                        r"the one the proxy_protocol listener read" % daemon.port)
        assert "a TLS listener without proxy_protocol" not in daemon.log()
    finally:
        daemon.cleanup()
