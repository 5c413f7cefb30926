"""A FastAPI/Starlette app served unchanged by prefork and by uvicorn
(tests/apps/asgi_browser_peer.py): what a browser or a slow client sees differs
nowhere a user would notice. Each process started is killed by PID at the end."""

import signal
import socket
import subprocess
import sys
import time

import pytest

from daemon import HERE, Daemon, python_env, wait_until

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

APP = "apps.asgi_browser_peer:app"


def free_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    """{"prefork": port, "uvicorn": port}, one worker each, the same app."""
    d = Daemon("--interface", "asgi", app=APP, workers=1)
    sock = free_socket()
    port = sock.getsockname()[1]
    log_path = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", APP, "--fd", str(sock.fileno()), "--no-access-log"],
                                pass_fds=(sock.fileno(),), env=python_env(), cwd=HERE, stdout=log_file,
                                stderr=subprocess.STDOUT)
    sock.close()
    try:
        d.wait_ready(timeout=30)
        wait_until(lambda: b"Application startup complete" in log_path.read_bytes(), 30, what="uvicorn up")
        yield {"prefork": d.port, "uvicorn": port}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        d.cleanup()


def head_within(port, path, seconds):
    """The response head (bytes) if it arrives within ``seconds``, else None."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + seconds
        while b"\r\n\r\n" not in data:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            data += chunk
        return data.partition(b"\r\n\r\n")[0]
    finally:
        sock.close()


def whole(port, path):
    """The head's lines (lowercased names) and the raw bytes after it, read to the close."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[1:]}
    return lines[0], fields, rest


@pytest.mark.parametrize("media", ["text/event-stream", "text/plain"])
def test_a_stream_whose_first_event_is_late_shows_its_head_at_once(ports, media):
    """A StreamingResponse whose generator waits before its first chunk (a quiet event
    source, a long poll): the client has the head at once, as under uvicorn, so
    Chromium's EventSource opens and fetch() resolves. prefork held the head until the
    first chunk, 30 s here."""
    for name, port in ports.items():
        head = head_within(port, f"/late?seconds=30&media={media}", 10)
        assert head is not None, name
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), (name, head)
        assert b"transfer-encoding: chunked" in head.lower(), (name, head)


def test_a_body_after_a_pause_in_a_raw_app_is_chunked_as_under_uvicorn(ports):
    """A raw ASGI app: a start, a pause, one body with no length declared is chunked on
    both (the head went out at the pause); a raise after the pause finds the head out
    (a 200, as uvicorn's)."""
    for name, port in ports.items():
        status, fields, rest = whole(port, "/raw/late")
        assert status == "HTTP/1.1 200 OK", name
        assert fields.get("transfer-encoding") == "chunked", (name, fields)
        assert rest == b"8\r\nthe body\r\n0\r\n\r\n", name
        assert whole(port, "/raw/late-fail")[0] == "HTTP/1.1 200 OK", name  # the head was out


PAGE_JS = r"""
window.R = {closes: []};
(function(){
  const t0 = performance.now();
  const es = new EventSource('/late?seconds=30');
  es.onopen = () => { R.sseOpen = performance.now() - t0; es.close(); };
  const c = new AbortController();
  fetch('/late?seconds=30&media=text/plain', {signal: c.signal})
    .then(r => { R.fetchHead = [r.status, performance.now() - t0]; c.abort(); }).catch(() => {});
  for (let k = 0; k < 8; k++) {  // the server closes with 4000 while the page is still sending
    const ws = new WebSocket('ws://' + location.host + '/ws-close-soon?n=' + (40 + 9 * k));
    let timer;
    ws.onopen = () => { timer = setInterval(() => {
      if (ws.readyState === 1) for (let i = 0; i < 20; i++) ws.send('m'.repeat(2000)); }, 1); };
    ws.onclose = (e) => { clearInterval(timer); R.closes.push([e.code, e.reason, e.wasClean]); };
  }
})();
"""


def test_headless_chromium_sees_a_late_stream_open_and_a_4000_close(ports, tmp_path):
    """Chromium's EventSource opens and fetch() resolves long before a late first event
    (30 s away; prefork held the head until it); WebSockets the server closes with
    4000 while the page sends get that code and reason on both."""
    import chromium
    path, why = chromium.binary()
    assert path, why
    browser = chromium.Chromium(path, str(tmp_path / "profile"))
    try:
        for name, port in ports.items():
            browser.open(f"http://127.0.0.1:{port}/page")
            wait_until(lambda: browser.evaluate("document.readyState") == "complete", 20, what="the page")
            browser.evaluate(PAGE_JS)
            result = wait_until(lambda: (lambda r: r if r and "sseOpen" in r and "fetchHead" in r
                                         and len(r["closes"]) == 8 else None)(browser.evaluate("window.R")),
                                20, what=f"{name}: the page's exchanges")
            assert result["sseOpen"] < 10000 and result["fetchHead"][1] < 10000, (name, result)
            assert result["fetchHead"][0] == 200, name
            codes = {(code, reason) for code, reason, _ in result["closes"]}
            assert codes == {(4000, "enough from you")}, (name, result["closes"])
    finally:
        browser.close()
