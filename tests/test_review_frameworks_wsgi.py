"""Real Django and Flask apps, unchanged, on prefork (on the loop and on threads) and on
gunicorn (sync and gthread) side by side: the same client script, the same answers.

Each server serves the app of the test; every process started is killed by PID at the
end (``Daemon`` and ``Gunicorn`` clean up)."""

import pytest

from daemon import Daemon
from journey_peers import Gunicorn

httpx = pytest.importorskip("httpx")
pytest.importorskip("flask")
pytest.importorskip("django")

DJANGO = "apps.frameworks_django.wsgi:application"
FLASK = "apps.frameworks_flask:app"
SERVERS = ["prefork-loop", "prefork-threads", "gunicorn-sync", "gunicorn-gthread"]


def _start(kind, app):
    if kind.startswith("gunicorn"):
        server = Gunicorn(app, threads=1 if kind == "gunicorn-sync" else 4)
    else:
        server = Daemon("--interface", "wsgi", "--threads", "1" if kind == "prefork-loop" else "4",
                        "--timeout", "20", app=app, workers=1)
    try:
        server.wait_ready()
    except BaseException:
        server.cleanup()
        raise
    return server


@pytest.fixture(scope="module", params=SERVERS)
def django_server(request):
    server = _start(request.param, DJANGO)
    yield server
    server.cleanup()


@pytest.fixture(scope="module", params=SERVERS)
def flask_server(request):
    server = _start(request.param, FLASK)
    yield server
    server.cleanup()


def _get(server, path):
    with httpx.Client(timeout=10) as client:
        response = client.get(f"http://127.0.0.1:{server.port}{path}")
    return response.status_code, response.text


def test_django_code_that_refuses_a_running_event_loop_runs(django_server):
    # A WSGI app is synchronous code: the ORM, asyncio.run() and async_to_sync (behind
    # Django's async views and async streams) refuse to run in a thread where an event
    # loop runs. gunicorn runs them; so must prefork on its loop (threads = 1).
    assert _get(django_server, "/orm") == (200, "orm 42")
    assert _get(django_server, "/async-view") == (200, "async view")
    assert _get(django_server, "/asyncio-run") == (200, "asyncio.run")
    assert _get(django_server, "/async-to-sync") == (200, "async_to_sync")
    assert _get(django_server, "/async-stream") == (200, "line 0\nline 1\nline 2\n")
    assert _get(django_server, "/orm") == (200, "orm 42")  # the worker serves on, unharmed
    assert "SynchronousOnlyOperation" not in django_server.log()


def test_flask_async_view_runs(flask_server):
    for _ in range(2):
        assert _get(flask_server, "/async-view") == (200, "flask async view")
