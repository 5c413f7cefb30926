"""The Django project of the WSGI framework tests, served as ASGI by prefork and by
uvicorn side by side: sync views (Django runs them on its thread), async views and
async streams, the ORM. The same client script, the
same answers. Every process started is killed by PID at the end."""

import signal
import socket
import subprocess
import sys

import pytest

from daemon import Daemon, python_env, wait_until

httpx = pytest.importorskip("httpx")
pytest.importorskip("django")
pytest.importorskip("uvicorn")

DJANGO = "apps.frameworks_django.asgi:application"


class Uvicorn:
    def __init__(self, app):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--fd", str(sock.fileno()),
                                      "--no-access-log", "--log-level", "warning"],
                                     pass_fds=(sock.fileno(),), env=python_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock.close()

    def wait_ready(self):
        def answers():
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/orm", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(lambda: answers() or self.proc.poll() is not None, 20, what="uvicorn answering")
        assert self.proc.poll() is None

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture(scope="module", params=["prefork", "uvicorn"])
def server(request):
    if request.param == "uvicorn":
        server = Uvicorn(DJANGO)
    else:
        server = Daemon("--interface", "asgi", app=DJANGO, workers=1)
    try:
        server.wait_ready()
    except BaseException:
        server.cleanup()
        raise
    yield server
    server.cleanup()


def _get(server, path):
    with httpx.Client(timeout=10) as client:
        response = client.get(f"http://127.0.0.1:{server.port}{path}")
    return response.status_code, response.text


def test_django_asgi_sync_and_async_code(server):
    assert _get(server, "/orm") == (200, "orm 42")  # a sync view: on Django's thread
    assert _get(server, "/async-view") == (200, "async view")
    assert _get(server, "/asyncio-run") == (200, "asyncio.run")  # a sync view, off the loop
    assert _get(server, "/async-to-sync") == (200, "async_to_sync")
    assert _get(server, "/async-stream") == (200, "line 0\nline 1\nline 2\n")

