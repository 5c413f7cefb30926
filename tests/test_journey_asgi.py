"""A FastAPI app moved from uvicorn to prefork unchanged (tests/apps/asgi_journey.py):
server-sent events, streams whose client leaves, files, uploads, background tasks,
lifespan startup, state and shutdown. Where the two servers may differ, both serve the
same app and the test asserts what uvicorn 0.55 does, on each."""

import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys

import pytest

from daemon import HERE, Daemon, python_env, wait_until

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("multipart")
uvicorn = pytest.importorskip("uvicorn")

APP = "apps.asgi_journey:app"


class Peer:
    def __init__(self, name, port, marks, log):
        self.name = name
        self.port = port
        self.marks = marks
        self.log = log  # () -> the server's log so far

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def marked(self, name):
        return os.path.exists(os.path.join(self.marks, name))

    def wait_mark(self, name, timeout=20):
        wait_until(lambda: self.marked(name), timeout, what=f"{self.name}: the app's mark {name!r}")

    def get(self, path):
        return httpx.get(self.url(path), timeout=20)


def journey_env(marks, big_file, **extra):
    return {"JOURNEY_MARKS": str(marks), "JOURNEY_FILE": str(big_file), **extra}


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "big.bin"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 17))
    return path


@pytest.fixture(scope="module")
def peers(tmp_path_factory, big_file):
    """prefork and uvicorn serving the journey app (one worker each)."""
    marks = {name: tmp_path_factory.mktemp(name) for name in ("prefork", "uvicorn")}
    d = Daemon("--interface", "asgi", app=APP, workers=1, env=journey_env(marks["prefork"], big_file))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    log_path = marks["uvicorn"] / "uvicorn.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", APP, "--fd", str(sock.fileno()),
                                 "--lifespan", "on", "--no-access-log"],
                                pass_fds=(sock.fileno(),), env=python_env(**journey_env(marks["uvicorn"], big_file)),
                                cwd=HERE, stdout=log_file, stderr=subprocess.STDOUT)
    sock.close()
    try:
        d.wait_ready(timeout=30)
        wait_until(lambda: b"Application startup complete" in log_path.read_bytes(), 30, what="uvicorn up")
        yield [Peer("prefork", d.port, str(marks["prefork"]), d.log),
               Peer("uvicorn", port, str(marks["uvicorn"]), lambda: log_path.read_text(errors="replace"))]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        d.cleanup()


def open_stream(peer, path):
    """A raw connection whose response head and first event have arrived."""
    sock = socket.create_connection(("127.0.0.1", peer.port), timeout=20)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data or b"data: " not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return sock, data


def read_until(sock, received, marker):
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    return received


def test_server_sent_events_arrive_one_by_one(peers):
    """Event i+1 is produced only once the client has read event i (it asks for it on
    another connection): each event is on the wire before the next exists."""
    for peer in peers:
        with httpx.Client(timeout=20) as client, client.stream("GET", peer.url("/sse?n=4")) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers.get("transfer-encoding") == "chunked"
            raw = response.iter_raw()
            received = b""
            for i in range(4):
                while f"data: event {i}\n\n".encode() not in received:
                    received += next(raw)
                if i < 3:
                    assert client.get(peer.url(f"/open/sse{i + 1}")).text == "opened"
            assert received.count(b"data: event") == 4, peer.name


def test_client_leaving_a_stream_ends_it_without_an_error(peers):
    """The client closes mid-stream: the app's stream stops (its finally runs), and
    nothing is logged as a failure (uvicorn logs nothing either)."""
    for peer in peers:
        before = peer.log()
        sock, received = open_stream(peer, "/forever")
        read_until(sock, received, b"tick 3\n")
        sock.close()
        peer.wait_mark("stream-finally")
        assert peer.get("/state").json() == {"pool": "connected"}  # served on; its log is written
        added = peer.log()[len(before):]
        assert "ERROR" not in added, (peer.name, added)


def test_client_fin_ends_a_stream_that_is_waiting(peers):
    """A stream that waits for something that never comes (a long poll): the client's
    close (FIN) is a disconnect for the app at once, as uvicorn reports it, not when a
    later write fails or the request timeout ends the connection."""
    for peer in peers:
        sock, _ = open_stream(peer, "/longpoll")
        sock.close()
        peer.wait_mark("longpoll-finally")


def test_a_reset_reaches_every_receive_waiting(peers):
    """The stream checked request.is_disconnected() (a receive() cancelled at once)
    while StreamingResponse's own receive() waits for http.disconnect: the client's
    reset wakes that one too, so the stream ends (uvicorn wakes every waiter)."""
    for peer in peers:
        sock, _ = open_stream(peer, "/poll-then-wait")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset
        peer.wait_mark("poll-then-wait-finally")


def test_is_disconnected_after_the_client_left(peers):
    """A handler polling request.is_disconnected() sees the client's close (a FIN: it
    could still read) as uvicorn shows it."""
    for peer in peers:
        sock = socket.create_connection(("127.0.0.1", peer.port), timeout=20)
        sock.sendall(b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n")
        peer.wait_mark("watch-started")
        sock.shutdown(socket.SHUT_WR)
        peer.wait_mark("watch-disconnected")
        sock.close()


def test_background_task_runs_after_the_response(peers):
    for peer in peers:
        assert peer.get("/background").json() == {"queued": True}  # answered: the task still waits
        assert not peer.marked("background-done")
        assert peer.get("/open/background").text == "opened"
        peer.wait_mark("background-done")


def test_files_uploads_and_streamed_bodies(peers, big_file):
    content = big_file.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    for peer in peers:
        with httpx.Client(timeout=60) as client:
            response = client.get(peer.url("/file"))
            assert response.status_code == 200
            assert int(response.headers["content-length"]) == len(content)
            assert hashlib.sha256(response.content).hexdigest() == digest
            head = client.head(peer.url("/file"))
            assert head.headers["content-length"] == str(len(content)) and head.content == b""
            part = client.get(peer.url("/file"), headers={"Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == content[100:200]
            upload = client.post(peer.url("/upload"), files={"file": ("big.bin", content)})
            assert upload.json() == {"name": "big.bin", "size": len(content), "sha256": digest}
            pieces = (content[i:i + 300000] for i in range(0, len(content), 300000))
            streamed = client.post(peer.url("/stream-upload"), content=pieces)  # chunked
            assert streamed.json() == {"size": len(content), "sha256": digest}
            assert client.get(peer.url("/state")).json() == {"pool": "connected"}
            head = client.head(peer.url("/head"))
            assert (head.status_code, head.headers["content-length"], head.content) == (200, "1000", b"")


# -- the worker's end -----------------------------------------------------------------------------
def start(daemons, tmp_path, big_file, *args, **env):
    d = daemons("--interface", "asgi", *args, app=APP, workers=1, env=journey_env(tmp_path, big_file, **env))
    d.wait_ready(timeout=30)
    return d


def marked(tmp_path, name):
    return (tmp_path / name).exists()


def test_graceful_stop_waits_for_background_tasks(daemons, tmp_path, big_file):
    """A background task that runs after its response is finished before the lifespan
    shutdown (uvicorn waits for its tasks too), not lost with the worker."""
    d = start(daemons, tmp_path, big_file, "--graceful-timeout", "20")
    assert d.request("/background-sleep?seconds=1").endswith(b'{"queued":true}')
    wait_until(lambda: marked(tmp_path, "background-started"), 10, what="the background task")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert marked(tmp_path, "background-done")
    assert marked(tmp_path, "shutdown-after-background"), sorted(os.listdir(tmp_path))


def test_graceful_stop_past_its_bound_cancels_streams_before_the_lifespan_shutdown(daemons, tmp_path, big_file):
    """An endless stream keeps the drain busy: before the bound runs out, the stream is
    cancelled, the lifespan shutdown runs, and the worker exits by itself instead of
    being killed by the master. (The stream's generator may be suspended at a yield when
    its task is cancelled: Starlette leaves closing it to the loop's end, on uvicorn too,
    so its finally may come after the lifespan shutdown.)"""
    d = start(daemons, tmp_path, big_file, "--graceful-timeout", "8")  # the last 2 s kept for the shutdown
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
    read_until(sock, b"", b"tick 1\n")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    sock.close()
    names = sorted(os.listdir(tmp_path))
    assert "stream-finally" in names and any(name.startswith("shutdown.") for name in names), names
    log = d.log()
    assert "did not stop in time" not in log and "SIGKILL" not in log, log
    assert "cancelling 1 ASGI task(s)" in log and "Exception in ASGI application" not in log, log


def test_fast_stop_ends_app_tasks_before_the_lifespan_shutdown(daemons, tmp_path, big_file):
    """INT: the worker stops at once; an open WebSocket's app task is cancelled (the
    client gets 1012) and its cleanup runs before the lifespan shutdown."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    d = start(daemons, tmp_path, big_file)
    with connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as ws:
        ws.send("hello")
        assert ws.recv(20) == "hello"
        d.signal(signal.SIGINT)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(20)
    assert d.wait_exit(30) == 0
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert marked(tmp_path, "shutdown-after-ws"), sorted(os.listdir(tmp_path))
    assert "Exception in ASGI application" not in d.log()


def test_lifespan_startup_that_awaits_longer_than_timeout_boots(daemons, tmp_path, big_file):
    """The lifespan startup awaits a service for longer than the heartbeat ``timeout``
    (uvicorn waits as long as it takes): the worker's loop is alive, so it is not
    aborted as hung; it becomes ready and serves."""
    # the import before the startup sends no heartbeat (docs/operations.md): it must fit in
    # `timeout` with the startup's first heartbeat (1 s in), and takes up to 10 s on a loaded
    # machine: 15 s leaves room for it
    d = daemons("--interface", "asgi", "--timeout", "15", app=APP, workers=1,
                env=journey_env(tmp_path, big_file, JOURNEY_SLOW_STARTUP="17"))
    d.wait_ready(timeout=60)
    assert d.request("/state").endswith(b'{"pool":"connected"}')
    assert "aborting" not in d.log() and "failed to boot" not in d.log()


def test_lifespan_startup_past_startup_timeout_fails_the_boot_in_one_line(daemons, tmp_path, big_file):
    """A startup that never completes (a service that never answers) is bounded by
    ``startup_timeout``: the boot fails with status 3 and a line naming the setting,
    never a worker booting for ever."""
    # (a `timeout` that the app's import, before any heartbeat, fits in on a loaded machine)
    d = daemons("--interface", "asgi", "--timeout", "20", "--startup-timeout", "2", app=APP, workers=1,
                env=journey_env(tmp_path, big_file, JOURNEY_SLOW_STARTUP="600"))
    assert d.wait_exit(60) == 3
    assert "the ASGI lifespan startup did not complete within startup_timeout (2 s)" in d.log(), d.log()
    # the app's startup was cancelled, not dropped: its cleanup ran before the worker exited
    assert [name for name in os.listdir(tmp_path) if name.startswith("startup-cancelled.")], d.log()
    assert "appears unsupported" not in d.log() and "Exception in 'lifespan' protocol" not in d.log()


def test_lifespan_startup_failure_is_reported_once_and_exits_3(daemons, tmp_path, big_file):
    """The app's lifespan raises: the master exits with status 3 (as uvicorn does) and
    says why in one line; the app's traceback is logged once per worker, and prefork's
    own frames are not in the log."""
    d = daemons("--interface", "asgi", app=APP, workers=1,
                env=journey_env(tmp_path, big_file, JOURNEY_FAIL_STARTUP="1"))
    assert d.wait_exit(30) == 3
    log = d.log()
    assert "failed to boot (exit status 3); stopping:\nApplication startup failed: " \
           "RuntimeError: the database is unreachable\n" in log, log
    assert log.count('raise RuntimeError("the database is unreachable")') == 1, log
    assert "prefork/asgi" not in log and "prefork/worker.py" not in log, log
    proc = subprocess.run([sys.executable, "-m", "uvicorn", APP, "--port", "0"], cwd=HERE, timeout=60,
                          env=python_env(**journey_env(tmp_path, big_file, JOURNEY_FAIL_STARTUP="1")),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 3 and b"Application startup failed" in proc.stdout
