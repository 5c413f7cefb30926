"""A WebSocket app that sends a message after its own ``websocket.close`` gets a
``RuntimeError`` saying so, in uvicorn's words (``--ws websockets-sansio``, its default,
and ``--ws wsproto``), whether or not the client has echoed the close since: the app
broke the protocol, its client never left. (It got ``ClientDisconnected`` with no
message, which says the client is gone.) The close the client reads is unchanged. The
same app on the daemon and on uvicorn, the ``websockets`` client."""

import signal
import socket
import subprocess
import sys

import pytest

from daemon import HERE, Daemon, python_env, wait_until

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

PATHS = ["/send", "/close", "/send/late", "/close/late"]


def run_paths(port, log):
    for path in PATHS:
        with connect(f"ws://127.0.0.1:{port}{path}", proxy=None, open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(10)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "done")
    wait_until(lambda: log.exists() and len(log.read_text().splitlines()) == len(PATHS), 10,
               what=f"the app's records: {log.read_text() if log.exists() else None!r}")
    return dict(line.split(" ", 1) for line in log.read_text().splitlines())


def uvicorn_records(tmp_path, ws):
    log = tmp_path / f"uvicorn-{ws}"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "apps.asgi_send_after_close:app", "--fd",
                             str(sock.fileno()), "--ws", ws, "--lifespan", "off", "--no-access-log",
                             "--log-level", "critical"],
                            pass_fds=(sock.fileno(),), env=python_env(ASGI_AFTER_CLOSE_LOG=str(log)), cwd=HERE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    try:
        return run_paths(port, log)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_a_message_after_the_apps_own_close_raises_runtime_error_as_under_uvicorn(tmp_path):
    log = tmp_path / "prefork"
    d = Daemon("--ws-ping-interval", "0", app="apps.asgi_send_after_close:app", workers=1,
               env={"ASGI_AFTER_CLOSE_LOG": str(log)})
    try:
        d.wait_ready()
        records = run_paths(d.port, log)
    finally:
        d.cleanup()
    for path in PATHS:
        kind = "websocket.send" if path.startswith("/send") else "websocket.close"
        assert records[path] == f"RuntimeError: Unexpected ASGI message '{kind}', after sending 'websocket.close'.", \
            (path, records[path])
    for ws in ("websockets-sansio", "wsproto"):
        assert uvicorn_records(tmp_path, ws) == records, ws
