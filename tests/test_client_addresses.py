"""A name that resolves to several addresses is tried address by address, as Node 20's
client does (``autoSelectFamily``): ``localhost`` on Debian resolves to ``::1`` first,
and a server bound to 127.0.0.1 only (prefork's default bind) must still be reached.
The client runs in a mount namespace of its own whose /etc/hosts gives a name
``::1`` then ``127.0.0.1``; nothing listens on ``[::1]:PORT`` (a bound, not listening
socket holds it, so the first connect is refused). Node's client runs the same way."""

import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from harness import NODE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNSHARE = shutil.which("unshare")

PREFORK_CLIENT = r"""
import asyncio, sys
sys.path.insert(0, ROOT)
import prefork

async def main():
    try:
        res = await asyncio.wait_for(prefork.get(f"http://dual.test:{sys.argv[1]}/"), 10)
        body = await asyncio.wait_for(res.read(), 10)
        print(res.status_code, body.decode())
    except Exception as exc:
        print("error", getattr(exc, "code", repr(exc)))
asyncio.run(main())
"""

NODE_CLIENT = r"""
const http = require('http');
http.get(`http://dual.test:${process.argv[1]}/`, (res) => {
  let body = ''; res.on('data', (d) => body += d); res.on('end', () => console.log(res.statusCode, body));
}).on('error', (e) => console.log('error', e.code));
"""


def in_namespace(hosts, argv):
    """Run ``argv`` with ``hosts`` bind-mounted over /etc/hosts, in a mount namespace of
    its own (the machine's /etc/hosts is untouched); its output."""
    script = f'mount --bind "{hosts}" /etc/hosts && exec "$@"'
    out = subprocess.run([UNSHARE, "--mount", "sh", "-c", script, "sh", *argv], capture_output=True, text=True,
                         timeout=30)
    return out.stdout.strip() or out.stderr.strip()


@pytest.fixture
def dual(tmp_path):
    """(hosts file, port): a server on 127.0.0.1:PORT answering 200 "v4", and [::1]:PORT
    held by a socket that does not listen."""
    try:
        held = socket.socket(socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 on this machine")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    try:
        held.bind(("::1", port))
    except OSError as exc:
        pytest.skip(f"[::1]:{port} cannot be held: {exc}")

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nv4")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 dual.test\n127.0.0.1 dual.test\n")
    probe = in_namespace(hosts, [sys.executable, "-c", "import socket; print(socket.getaddrinfo("
                                 "'dual.test', 80, type=socket.SOCK_STREAM)[0][4][0])"])
    if probe != "::1":
        pytest.skip(f"cannot give the client a hosts file of its own: {probe}")
    yield hosts, port
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept
    server.close()
    held.close()
    thread.join(10)


@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0, reason="needs unshare and root")
def test_a_refused_first_address_falls_back_to_the_next_as_in_node(dual):
    hosts, port = dual
    mine = in_namespace(hosts, [sys.executable, "-c", PREFORK_CLIENT.replace("ROOT", repr(ROOT)), str(port)])
    assert mine == "200 v4"
    if NODE is not None:
        assert in_namespace(hosts, [NODE, "-e", NODE_CLIENT, "--", str(port)]) == mine


@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0, reason="needs unshare and root")
def test_every_address_refused_is_the_last_error(dual, tmp_path):
    hosts, port = dual
    hosts.write_text("::1 dual.test\n127.0.0.2 dual.test\n")  # nothing on 127.0.0.2:PORT either
    mine = in_namespace(hosts, [sys.executable, "-c", PREFORK_CLIENT.replace("ROOT", repr(ROOT)), str(port)])
    assert mine == "error ECONNREFUSED"
