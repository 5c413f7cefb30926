"""ASGI through the real daemon: lifespan per worker, boot failures, FastAPI, Starlette
and Django apps unchanged, WebSockets closed with 1012 on a graceful stop."""

import os
import signal
import subprocess
import sys

import pytest

from daemon import ROOT, alive, children, python_env, wait_until
from harness import read_until_close

httpx = pytest.importorskip("httpx")
websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402


def client(d):
    return httpx.Client(base_url=f"http://127.0.0.1:{d.port}", timeout=20)


def test_lifespan_runs_per_worker_and_its_state_reaches_requests(daemons, tmp_path):
    mark = tmp_path / "shutdown"
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=2, env={"ASGI_SHUTDOWN_MARK": str(mark)})
    d.wait_ready()
    workers = d.wait_workers(2)
    with client(d) as c:
        scope = c.get("/scope").json()
    assert scope["state_greeting"] == "hello from lifespan"
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    # each worker ran its own shutdown
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"shutdown.{pid}" for pid in workers)


def test_a_failed_lifespan_startup_is_a_boot_failure_exit_3(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:failing_startup", workers=1)
    assert d.wait_exit(30) == 3
    log = d.log()
    assert "the database is not there" in log and "failed to boot" in log
    assert log.count("booting worker 0") == 1  # no respawn loop


def test_an_app_without_lifespan_serves_silently(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:no_lifespan", workers=1)
    d.wait_ready()
    with client(d) as c:
        response = c.get("/")
    assert response.status_code == 200 and response.text == "no lifespan here"
    assert "ERROR" not in d.log() and "Traceback" not in d.log()


def test_lifespan_on_makes_an_app_without_it_fail_to_boot(daemons):
    d = daemons("--interface", "asgi", "--lifespan", "on", app="apps.asgi_apps:no_lifespan", workers=1)
    assert d.wait_exit(30) == 3
    assert "this app speaks only HTTP" in d.log()


def test_graceful_stop_closes_websockets_with_1012(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    d.wait_ready()
    with connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as ws:
        ws.send("hi")
        assert ws.recv(10) == "hi"
        d.signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(20)
    assert closed.value.rcvd.code == 1012
    assert d.wait_exit(30) == 0


def test_fastapi_app_runs_unchanged(daemons):
    pytest.importorskip("fastapi")
    d = daemons("--interface", "asgi", app="apps.asgi_fastapi:app", workers=2)
    d.wait_ready()
    with client(d) as c:
        assert c.get("/items/7", params={"q": "x y"}).json() == {"item_id": 7, "q": "x y"}
        created = c.post("/items", json={"name": "pen", "price": 1.5, "tags": ["a"]})
        assert created.json() == {"name": "pen", "total": 3.0, "tags": ["a"]}
        invalid = c.post("/items", json={"name": "pen"})
        assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "price"]
        assert c.get("/state").json() == {"pool": "connected"}
        missing = c.get("/missing")
        assert missing.status_code == 404 and missing.json() == {"detail": "no such thing"}
        assert c.get("/boom").status_code == 500
        streamed = c.get("/stream")
        assert streamed.text == "0\n1\n2\n3\n4\n" and streamed.headers["transfer-encoding"] == "chunked"
        assert c.get("/items/7").status_code == 200  # the worker serves on after the error
    with connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as ws:
        ws.send("ping")
        assert ws.recv(10) == "echo: ping"
    d.wait_log(r"the FastAPI view broke")


def test_starlette_app_runs_unchanged(daemons):
    pytest.importorskip("starlette")
    d = daemons("--interface", "asgi", app="apps.asgi_starlette:app", workers=1)
    d.wait_ready()
    with client(d) as c:
        assert c.get("/").text == "starlette here"

        def body():
            for _ in range(16):
                yield b"y" * 65536
        assert c.post("/upload", content=body()).json() == {"size": 16 * 65536, "started": True}
        assert c.post("/form", data={"name": "Ada"}).json() == {"name": "Ada"}
    with connect(f"ws://127.0.0.1:{d.port}/ws", subprotocols=["v1"], proxy=None) as ws:
        assert ws.subprotocol == "v1"
        ws.send(b"abc")
        assert ws.recv(10) == b"cba"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 4100


def test_django_asgi_app_runs_unchanged(daemons):
    pytest.importorskip("django")
    d = daemons("--interface", "asgi", app="apps.asgi_django:application", workers=1)
    d.wait_ready()
    with client(d) as c:
        assert c.get("/async/", params={"q": "1"}).json() == {"kind": "async", "path": "/async/", "q": "1"}
        sync = c.get("/sync/")
        assert sync.text == "sync view" and sync.headers["content-type"] == "text/plain"
        assert c.post("/echo/", json={"a": [1, 2]}).json() == {"method": "POST", "body": {"a": [1, 2]}}
        assert c.get("/nowhere/").status_code == 404
        assert c.get("/boom/").status_code == 500
        assert c.get("/sync/").status_code == 200
    d.wait_log(r"ASGI 'lifespan' protocol appears unsupported")  # Django's handler speaks none: noted, served


def test_the_master_never_imports_the_asgi_adapter_or_wsproto(tmp_path):
    import socket
    out = tmp_path / "modules.txt"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "apps", "master_modules.py"), "apps.asgi_apps:app",
         "--interface", "asgi", "--workers", "1", "--bind", f"fd://{sock.fileno()}", "--metrics-bind",
         "127.0.0.1:0", "--access-log", ""],
        pass_fds=(sock.fileno(),), env=python_env(MODULES_OUT=str(out)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    sock.close()
    try:
        wait_until(out.exists, 15, what="the master's module list")
        modules = set(out.read_text().split())
    finally:
        workers = children(proc.pid)
        proc.kill()
        proc.wait(10)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert "prefork.master.master" in modules
    assert not [m for m in modules if m.startswith(("prefork.asgi", "wsproto", "h11", "apps"))], sorted(modules)


def test_bad_asgi_settings_are_refused_with_their_source(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('interface = "asgi"\nlifespan = "sometimes"\nws_ping_timeout = -1\n')
    out = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config), "--ws-max-size", "0"],
                         capture_output=True, text=True, env=python_env(), timeout=30)
    assert out.returncode == 2
    assert f"{config}:lifespan: expected one of auto, on, off, got 'sometimes'" in out.stderr
    assert f"{config}:ws_ping_timeout: must be at least 0" in out.stderr
    assert "argv:--ws-max-size: must be at least 1, got 0" in out.stderr


def test_a_fast_stop_refuses_new_connections_and_gives_up_a_long_shutdown_in_time(daemons, tmp_path):
    """INT while the lifespan shutdown takes long: new connections were accepted and
    served while the app tore down (the worker's listener stayed open), and the master's
    kill at 2 s came before the shutdown was given up, so its finally blocks never ran."""
    import socket
    mark = tmp_path / "shutdown"
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1,
                env={"ASGI_SHUTDOWN_MARK": str(mark), "ASGI_SHUTDOWN_SECONDS": "10"})
    d.wait_ready()
    worker, = d.wait_workers(1)
    d.signal(signal.SIGINT)
    d.wait_log(r"fast stop")
    wait_until(lambda: _refused(d.port, socket), 1, what="new connections refused")
    assert alive(worker)  # still in its lifespan shutdown: refused meanwhile, not served
    assert d.wait_exit(15) == 0
    assert (tmp_path / f"shutdown.{worker}").read_text() == "cancelled"  # given up, its finally ran
    assert "did not stop in time" not in d.log()


def _refused(port, socket):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /scope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(100) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        return True


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_int_after_term_with_a_request_in_flight_stops_cleanly(daemons, tmp_path, loop):
    """A fast stop during a graceful one (Ctrl-C after TERM), a request still awaiting:
    the server's close, reached while the worker ran its exit steps, stopped the loop
    under them ("Event loop stopped before Future completed"): the worker exited with
    status 1 and the lifespan shutdown never ran. On uvloop, whose ``stop()`` is itself
    a queued callback, a second stop asked for before the first ran did the same."""
    import threading
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    mark = tmp_path / "shutdown"
    d = daemons("--interface", "asgi", "--loop", loop, app="apps.asgi_apps:app", workers=1,
                env={"ASGI_SHUTDOWN_MARK": str(mark)})
    d.wait_ready()
    worker, = d.wait_workers(1)
    answers = []

    def slow():
        try:
            answers.append(d.request("/sleep?s=2", timeout=10))
        except OSError as exc:
            answers.append(exc)
    thread = threading.Thread(target=slow)
    thread.start()
    try:
        wait_until(lambda: "GET /sleep" in d.log() or _in_flight(d), 5, what="the request in the worker")
        d.signal(signal.SIGTERM)
        d.wait_log(r"graceful stop: draining")
        d.signal(signal.SIGINT)
        assert d.wait_exit(15) == 0
    finally:
        thread.join(15)
    log = d.log()
    assert "Event loop stopped before Future completed" not in log and "Traceback" not in log, log
    assert f"(pid {worker}) stopped: exit status 0" in log, log
    assert (tmp_path / f"shutdown.{worker}").read_text() == "shutdown"


def _in_flight(d):
    import json
    import socket as socket_mod
    try:
        with socket_mod.create_connection(("127.0.0.1", d.metrics_port()), timeout=2) as sock:
            sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(sock)
        return json.loads(data.partition(b"\r\n\r\n")[2])["workers"][0]["connections"] >= 1
    except (OSError, ValueError, KeyError, IndexError):
        return False
