"""A PROXY-protocol listener on a UNIX socket trusts its peers by default: only a
process on this host with the socket file's permissions can connect (a balancer
beside the daemon), so ``proxy_allow_ips``'s default has ``unix`` as
``forwarded_allow_ips``'s does (and as gunicorn trusts UNIX-socket peers). A TCP peer
outside the list is still refused."""

import os
import shutil
import socket
import tempfile

from daemon import read_until_close, wait_until

CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def ask_unix(path, data):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(5)
    try:
        sock.connect(path)
        sock.sendall(data)
        return read_until_close(sock)
    finally:
        sock.close()


def test_a_unix_proxy_listener_serves_the_client_its_header_names_by_default(daemons):
    where = tempfile.mkdtemp(prefix="prefork-unix-proxy-")  # (a short path: sun_path's limit)
    path = os.path.join(where, "s.sock")
    try:
        served(daemons, path)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def served(daemons, path):
    daemon = daemons("--bind", f"unix:{path}", "--proxy-protocol", "--interface", "wsgi",
                     app="apps.fleet:wsgi", workers=1, bind_socket=False)
    daemon.wait_ready()
    wait_until(lambda: os.path.exists(path), 10, what="the socket file")
    answer = ask_unix(path, b"PROXY TCP4 192.0.2.7 192.0.2.1 4711 80\r\n" + CLOSE)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer
    assert answer.endswith(b"wsgi client=192.0.2.7:4711"), answer
