"""A connection's local side is its own socket's, whatever client a PROXY header named:
``address()`` and ``local_family`` give the listener's family (Node's ``address()`` is
the local socket's), not the header's; and on a UNIX listener, where a header names a
TCP client, ``set_no_delay``/``set_keep_alive`` are no-ops (as on Node's pipe), not an
OSError raised into the application. Real daemon, real PROXY headers."""

import json
import os
import socket

from daemon import read_until_close, scratch_dir


def ask(family, address, header):
    sock = socket.socket(family)
    sock.settimeout(5)
    try:
        sock.connect(address)
        sock.sendall(header + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), data
    return json.loads(body)


def test_the_local_side_is_the_sockets_own_behind_a_proxy_header(daemons):
    path = os.path.join(scratch_dir("prefork-local-side-"), "s.sock")
    daemon = daemons("--proxy-protocol", "--proxy-allow-ips", "*", "--bind", f"unix:{path}",
                     app="apps.socket_local_side:setup", workers=1)
    daemon.wait_ready()
    over_tcp = ask(socket.AF_INET, ("127.0.0.1", daemon.port), b"PROXY TCP6 2001:db8::7 2001:db8::1 5555 80\r\n")
    assert over_tcp == {"address": {"address": "127.0.0.1", "family": "IPv4", "port": daemon.port},
                        "local_family": "IPv4", "remote": ["IPv6", "2001:db8::7", 5555], "options": "set"}
    for header, peer in ((b"PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n", ["IPv4", "203.0.113.7", 5555]),
                         (b"PROXY TCP6 2001:db8::7 2001:db8::1 5555 80\r\n", ["IPv6", "2001:db8::7", 5555])):
        over_unix = ask(socket.AF_UNIX, path, header)
        assert over_unix == {"address": {}, "local_family": None, "remote": peer, "options": "set"}
