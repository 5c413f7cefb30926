"""The WebSocket module is imported when the ASGI adapter loads, before any handshake:
a worker whose user cannot import it (privileges dropped to one who cannot read the
interpreter's modules) says so at boot and answers handshakes 500, instead of booting
silently and closing every handshake unanswered."""

import os
import socket
import subprocess
import sys

from daemon import Daemon, python_env

HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def test_websocket_under_an_unprivileged_user_works_or_says_why_at_boot():
    assert os.geteuid() == 0, "needs root to start workers as nobody"
    daemon = Daemon("--interface", "asgi", "--user", "nobody", app="apps.asgi_raw_ws:app", workers=1,
                    graceful_timeout="2")
    try:
        daemon.wait_ready(timeout=15)
        failed = "WebSocket support could not be loaded" in daemon.log()  # said before the worker is ready
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        try:
            sock.sendall(HANDSHAKE)
            head = b""
            while b"\r\n\r\n" not in head:
                data = sock.recv(4096)
                assert data, f"the handshake was closed with no response:\n{daemon.log()}"
                head += data
        finally:
            sock.close()
        if failed:  # this user cannot import it (the interpreter is where it cannot read)
            assert head.startswith(b"HTTP/1.1 500 "), head
            assert "(uid 65534)" in daemon.log() and "ModuleNotFoundError" in daemon.log(), daemon.log()
        else:
            assert head.startswith(b"HTTP/1.1 101 "), head
        assert daemon.request("/").endswith(b"\r\n\r\nok")  # HTTP is served either way
    finally:
        daemon.cleanup()


def test_without_wsproto_the_adapter_loads():
    code = ("import sys; sys.modules['wsproto'] = None\n"
            "import prefork.asgi.adapter as adapter\n"
            "assert adapter.WebSocketSession is None\n"
            "print('loaded')\n")
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "loaded", out.stderr


def test_the_websocket_module_is_loaded_with_the_adapter():
    code = ("import sys\n"
            "import prefork.asgi\n"
            "print('prefork.asgi.websocket' in sys.modules, 'wsproto' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["True", "True"], out.stderr
