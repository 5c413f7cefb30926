"""A worker that drops its privileges (``--user``) imports prefork's own interface
modules first, as the master's user, and the app after, as the user (gunicorn's worker
classes are loaded before its setuid too): a user that cannot read the interpreter's
files (Python installed under /root) still gets a serving worker, and a WebSocket on
its first upgrade, not "the app failed to load". A worker that keeps its user loads
them lazily, as before (no memory spent on an interface its app does not use)."""

import base64
import json
import os
import socket
import struct

import pytest

from daemon import Daemon
from harness import read_until, read_until_close

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="only root may drop privileges")
NOBODY = 65534


def state(d):
    head, _, body = d.request("/").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head + body + d.log().encode()
    return json.loads(body)


def websocket_echo(port, text):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: b\u00fccher.example\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     f"\r\n".encode("utf-8"))
        head = read_until(sock, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        payload, mask = text.encode(), os.urandom(4)
        sock.sendall(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask
                     + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        data = head.partition(b"\r\n\r\n")[2] + read_until_close(sock)
        assert data[0] == 0x81, data
        return data[2:2 + data[1]].decode()
    finally:
        sock.close()


@pytest.mark.parametrize("interface", ["wsgi", "auto"])
def test_a_wsgi_worker_dropping_to_nobody_serves(interface):
    d = Daemon("--user", "nobody", "--interface", interface, "--threads", "2",
               app="apps.dropped_privileges:app", workers=1, access_log=None)
    try:
        d.wait_ready()
        seen = state(d)
        assert seen["uid"] == NOBODY  # the app itself was imported as the user
        assert {"prefork.wsgi", "prefork.wsgi.threads"} <= set(seen["loaded"]), seen
        assert "failed to load" not in d.log(), d.log()
    finally:
        d.cleanup()


def test_an_asgi_worker_dropping_to_nobody_serves_websockets():
    d = Daemon("--user", "nobody", "--interface", "asgi", app="apps.dropped_privileges:asgi", workers=1,
               access_log=None)
    try:
        d.wait_ready()
        seen = state(d)
        assert seen["uid"] == NOBODY
        assert {"prefork.asgi", "prefork.asgi.websocket", "encodings.idna"} <= set(seen["loaded"]), seen
        assert websocket_echo(d.port, "hey") == "echo hey"
        assert "Traceback" not in d.log(), d.log()
    finally:
        d.cleanup()


def test_a_misnamed_app_under_nobody_gets_its_hint():
    d = Daemon("--user", "nobody", app="apps.dropped_privileges:ap", workers=1, access_log=None)
    try:
        assert d.wait_exit() == 3
        assert "module 'apps.dropped_privileges' has no attribute 'ap' (did you mean 'app'?)" in d.log(), d.log()
        assert "Traceback" not in d.log(), d.log()
    finally:
        d.cleanup()


@pytest.mark.parametrize("args", [(), ("--group", "nogroup")])
def test_a_worker_keeping_its_user_loads_no_interface_module_before_the_app(args):
    d = Daemon("--interface", "wsgi", *args, app="apps.dropped_privileges:app", workers=1, access_log=None)
    try:
        d.wait_ready()
        seen = state(d)
        assert seen == {"uid": 0, "loaded": []}, seen
    finally:
        d.cleanup()


def test_check_config_as_nobody_names_a_misnamed_app_with_its_hint():
    import subprocess
    import sys

    from daemon import python_env, scratch_dir

    result = subprocess.run([sys.executable, "-m", "prefork", "--check-config", "--user", "nobody",
                             "apps.dropped_privileges:ap"], capture_output=True, text=True, timeout=30,
                            env=python_env(), cwd=scratch_dir("prefork-check-"))
    assert result.returncode == 3, result.stderr
    assert "module 'apps.dropped_privileges' has no attribute 'ap' (did you mean 'app'?)" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_an_events_worker_dropping_to_nobody_answers_in_nodes_ucs2():
    d = Daemon("--user", "nobody", app="apps.dropped_privileges:setup", workers=1, access_log=None)
    try:
        d.wait_ready()
        head, _, body = d.request("/").partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head + body + d.log().encode()
        assert body == "h\u00e9llo".encode("utf-16-le"), (body, d.log())
    finally:
        d.cleanup()
