"""/status (a page for people) and /status.json on the metrics listener, against the real
daemon; the page is rendered by headless Chromium, which must show one row per worker and
follow a TTIN without being reloaded. PREFORK_DOCS_SCREENSHOT=1 also writes the page's
screenshot to docs/status.png."""

import json
import os
import shutil
import signal
import socket
import struct
import threading

import pytest

from daemon import ROOT, alive, wait_until
import chromium


def get(port, path):
    """(status, headers dict, body bytes) of one request."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def status_json(port):
    status, headers, body = get(port, "/status.json")
    assert status == 200 and headers["content-type"] == "application/json"
    return json.loads(body)


def test_status_json_shows_master_workers_and_totals(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    port = d.metrics_port()
    pids = d.wait_workers(2)
    for _ in range(12):
        assert d.request("/").startswith(b"HTTP/1.1 200 OK")
    data = wait_until(lambda: (lambda s: s if s["totals"]["requests"] == 12 else None)(status_json(port)), 10,
                      what="12 requests counted")
    master = data["master"]
    assert master["pid"] == d.pid and master["generation"] == 1 and master["reloads"] == 0
    assert master["ready"] is True and master["live"] is True and master["uptime"] > 0
    workers = data["workers"]
    assert sorted(w["pid"] for w in workers) == pids
    assert sorted(w["slot"] for w in workers) == [0, 1]
    assert sum(w["requests"] for w in workers) == 12
    for w in workers:
        assert w["state"] == "serving" and w["generation"] == 1 and not w["stale"]
        assert w["rss"] > 1_000_000 and w["cpu"] >= 0 and w["age"] > 0 and 0 <= w["heartbeat_age"] < 5
        assert w["connections"] == 0
    totals = data["totals"]
    assert totals["workers"] == 2 and totals["rss"] == sum(w["rss"] for w in workers)

    # a reload: the old worker finishing a slow request shows as draining, counts are kept
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(answer=d.request("/sleep/4", timeout=30)))
    thread.start()
    wait_until(lambda: status_json(port)["totals"]["connections"] == 1, 10, what="the slow request")
    d.signal(signal.SIGHUP)
    d.wait_log(r"generation 2 ready", 20)
    data = status_json(port)
    states = {(w["generation"], w["state"]) for w in data["workers"]}
    assert (1, "draining") in states and (2, "serving") in states, data["workers"]
    assert data["master"]["generation"] == 2 and data["master"]["reloads"] == 1
    assert data["master"]["ready"] is True  # the new generation serves while the old one drains
    draining = [w for w in data["workers"] if w["state"] == "draining"]
    assert sum(w["connections"] for w in draining) == 1
    thread.join(30)
    assert slow["answer"].startswith(b"HTTP/1.1 200 OK")
    data = wait_until(lambda: (lambda s: s if len(s["workers"]) == 2 else None)(status_json(port)), 20,
                      what="the old generation gone")
    assert {w["generation"] for w in data["workers"]} == {2}
    assert data["totals"]["requests"] >= 13  # the old workers' counts are kept in the totals


def test_status_json_shows_booting_workers(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=2, env={"BOOT_SECONDS": "2"})
    port = d.metrics_port()
    data = wait_until(lambda: (lambda s: s if len(s["workers"]) == 2 else None)(status_json(port)), 10,
                      what="two workers forked")
    assert "workers ready" not in d.log()
    assert [w["state"] for w in data["workers"]] == ["booting", "booting"]
    assert data["master"]["ready"] is False and data["master"]["readiness"] == "booting"
    d.wait_ready()
    wait_until(lambda: [w["state"] for w in status_json(port)["workers"]] == ["serving", "serving"], 10,
               what="both serving")


def test_status_page_is_one_document_and_escapes_what_it_embeds(daemons):
    name = "</script><script>alert(1)</script>&<b>"
    d = daemons("--proc-name", name, workers=1)
    d.wait_ready()
    status, headers, body = get(d.metrics_port(), "/status")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    page = body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>alert(1)" not in page and "<b>" not in page  # the name only as escaped text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&lt;b&gt;" in page
    # nothing outside the page itself: no links, no sources, no absolute URLs
    for needle in ("src=", "<link", "http://", "https://", "@import", "url("):
        assert needle not in page, needle
    assert page.count("</script>") == 2  # the embedded data and the script, nothing more
    assert get(d.metrics_port(), "/status?refresh=nan")[0] == 200
    assert "var refresh = 0.5," in get(d.metrics_port(), "/status?refresh=0.01")[2].decode()
    assert "var refresh = 2.0," in get(d.metrics_port(), "/status?refresh=x")[2].decode()


@pytest.fixture(scope="module")
def chromium_binary():
    path, why = chromium.binary()
    if path is None:
        pytest.skip(why)
    return path


ROWS = "[...document.querySelectorAll('#workers tbody tr')].map(r => [...r.cells].map(c => c.textContent))"


def test_status_page_in_headless_chromium_follows_ttin(daemons, chromium_binary, tmp_path):
    d = daemons(workers=2)
    d.wait_ready()
    port = d.metrics_port()
    pids = d.wait_workers(2)
    for _ in range(20):
        d.request("/")
    wait_until(lambda: status_json(port)["totals"]["requests"] == 20, 10, what="the requests counted")
    browser = chromium.Chromium(chromium_binary, str(tmp_path / "profile"))
    try:
        browser.open(f"http://127.0.0.1:{port}/status?refresh=0.5", width=840, height=300)
        wait_until(lambda: browser.evaluate("document.readyState") == "complete", 30, what="the page loaded")
        browser.evaluate("window.openedOnce = 'yes'")  # gone if the page were reloaded
        rows = wait_until(lambda: (lambda r: r if len(r) == 2 else None)(browser.evaluate(ROWS)), 30,
                          what="two rows")
        assert sorted(int(r[1]) for r in rows) == pids
        assert all(r[3] == "serving" and r[2] == "1" for r in rows), rows
        assert sum(int(r[5]) for r in rows) == 20
        assert all(r[7].endswith("MiB") and r[8].endswith(" s") for r in rows), rows
        assert browser.evaluate("document.getElementById('pid').textContent") == str(d.pid)
        assert browser.evaluate("document.getElementById('ready').textContent") == "ready"
        assert browser.evaluate("document.getElementById('total-requests').textContent") == "20"
        renders = int(browser.evaluate("document.body.dataset.renders"))

        d.signal(signal.SIGTTIN)
        third = wait_until(lambda: [p for p in d.serving_workers() if p not in pids], 20, what="a third worker")[0]
        rows = wait_until(lambda: (lambda r: r if len(r) == 3 and all(x[3] == "serving" for x in r) else None)(
            browser.evaluate(ROWS)), 30, what="three serving rows in the open page")
        assert sorted(int(r[1]) for r in rows) == sorted(pids + [third])
        assert sorted(r[0] for r in rows) == ["0", "1", "2"]
        assert browser.evaluate("window.openedOnce") == "yes"  # updated in place by the script
        assert int(browser.evaluate("document.body.dataset.renders")) > renders
        assert browser.evaluate("document.getElementById('total-workers').textContent") == "3 workers (3 wanted)"

        shot = tmp_path / "status.png"
        browser.screenshot(str(shot))
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", png[16:24]) == (840, 300)
        if os.environ.get("PREFORK_DOCS_SCREENSHOT") == "1":
            shutil.copy(shot, os.path.join(ROOT, "docs", "status.png"))
        spawned = browser.descendants()
        assert spawned  # the browser's own helpers (zygote, renderer...): killed by close()
    finally:
        browser.close()
    assert not alive(browser.proc.pid)
    wait_until(lambda: not any(alive(pid) for pid in spawned), 10, what="the browser's processes gone")
