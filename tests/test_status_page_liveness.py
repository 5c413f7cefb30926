"""The status page says why the daemon is not live, as /healthz does: when every worker
crash-loops (the app no longer imports after the first generation came up), the page's
badge said "stale heartbeat" although no worker was there to be stale. /status.json
carries /healthz's text (``master.liveness``) and the page shows it. A real daemon and
headless Chromium, their processes killed by PID at the end."""

import json
import socket

import pytest

from daemon import alive, wait_until
from harness import read_until_close
import chromium

APP = """
import os

if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "broken")):
    raise RuntimeError("the app no longer imports")


def setup(server):
    def on_request(req, res):
        if req.url == "/crash":
            os._exit(1)
        res.end("ok")
    server.on("request", on_request)
"""


@pytest.fixture
def chromium_path():
    path, why = chromium.binary()
    assert path is not None, why
    return path


def endpoint(d, path):
    with socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def crash_looping(d, tmp_path):
    """The daemon's one worker replaced, for ever, by workers whose app no longer imports."""
    d.wait_ready()
    (tmp_path / "broken").write_text("")
    try:
        d.request("/crash", timeout=5)
    except OSError:
        pass
    return wait_until(lambda: (lambda r: r if r[0] == 503 else None)(endpoint(d, "/healthz")), 30,
                      what="/healthz saying crash loop")[1]


def test_status_json_and_page_say_the_workers_crash_loop(daemons, tmp_path, chromium_path):
    (tmp_path / "looping.py").write_text(APP)
    d = daemons("--app-dir", str(tmp_path), app="looping:setup", workers=1)
    healthz = crash_looping(d, tmp_path)
    assert healthz.startswith("crash loop: no worker serving"), healthz

    master = json.loads(endpoint(d, "/status.json")[1])["master"]
    assert master["live"] is False
    assert master["liveness"].startswith("crash loop: no worker serving; every worker died"), master

    browser = chromium.Chromium(chromium_path, str(tmp_path / "profile"))
    try:
        browser.open(f"http://127.0.0.1:{d.metrics_port()}/status", width=840, height=300)
        wait_until(lambda: browser.evaluate("document.readyState") == "complete", 30, what="the page loaded")
        badge = browser.evaluate("document.getElementById('live').textContent")
        assert badge.startswith("not live: crash loop: no worker serving"), badge
        assert "stale" not in badge
        spawned = browser.descendants()
    finally:
        browser.close()
    assert not alive(browser.proc.pid)
    wait_until(lambda: not any(alive(pid) for pid in spawned), 10, what="the browser's processes gone")


def test_status_json_liveness_is_the_healthz_text_while_live(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    master = json.loads(endpoint(d, "/status.json")[1])["master"]
    assert master["live"] is True
    assert master["liveness"] == endpoint(d, "/healthz")[1].strip()
