"""A reload that raises ``timeout`` for an app that now takes longer to import: the new
generation boots within its own ``timeout``, and /healthz and /status.json judge each
worker by its generation's ``timeout`` too, so the slow boot the master allows does not
turn the daemon unhealthy (a liveness probe would restart it in the middle of the
reload). Real daemon, real signals."""

import json
import signal
import socket
import textwrap
import time

from daemon import read_until_close

APP = """
import os, time
_delay = os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot_delay")
if os.path.exists(_delay):
    time.sleep(float(open(_delay).read()))

def setup(server):
    server.on("request", lambda req, res: res.end(f"pid {os.getpid()}"))
"""


def get(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
        return head.split(b" ", 2)[1].decode(), body.decode()
    finally:
        sock.close()


def test_a_slow_boot_within_the_new_timeout_leaves_the_daemon_healthy(daemons, tmp_path):
    (tmp_path / "slowboot.py").write_text(textwrap.dedent(APP))
    conf = tmp_path / "prefork.toml"
    conf.write_text("timeout = 2\n")
    d = daemons("--app-dir", str(tmp_path), "--config", str(conf), app="slowboot:setup", workers=1)
    d.wait_ready()
    port = d.metrics_port()
    assert get(port, "/healthz")[0] == "200"
    (tmp_path / "boot_delay").write_text("5")
    conf.write_text("timeout = 30\n")
    d.signal(signal.SIGHUP)
    d.wait_log(r"booting worker 0 \(pid \d+, generation 2\)")
    answers = []
    deadline = time.monotonic() + 20
    while "generation 2 ready" not in d.log():
        assert time.monotonic() < deadline, d.log()
        status, body = get(port, "/healthz")
        _, page = get(port, "/status.json")
        stale = [w for w in json.loads(page)["workers"] if w["stale"]]
        answers.append((status, body.strip(), stale))
        time.sleep(0.1)
    assert len(answers) > 20  # the boot took seconds, past the old generation's timeout
    bad = [a for a in answers if a[0] != "200" or a[2]]
    assert not bad, bad[:3]
    log = d.log()
    assert "aborting" not in log and "still booting" not in log
    assert get(port, "/healthz")[0] == "200"
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
