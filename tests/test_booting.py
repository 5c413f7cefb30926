"""Booting an events app: an asyncio.run() in the app's import no longer leaves the
worker's loop unset for its setup; an async setup(server) that awaits longer than
``timeout`` keeps the worker's heartbeat going (it was aborted as hung), and is
bounded by ``startup_timeout`` as an ASGI lifespan startup is."""

from daemon import Daemon


def test_asyncio_run_at_import_leaves_the_worker_loop_current_for_setup():
    d = Daemon(app="apps.booting:imports_run", workers=1)
    try:
        d.wait_ready()
        assert d.request("/").endswith(b"config True")
    finally:
        d.cleanup()


def test_an_async_setup_may_await_longer_than_timeout():
    d = Daemon("--timeout", "1", app="apps.booting:slow_setup", workers=1, env={"SETUP_SECONDS": "2.5"})
    try:
        d.wait_ready(timeout=15)
        assert d.request("/").endswith(b"set up")
        assert "abort" not in d.log(), d.log()
    finally:
        d.cleanup()


def test_an_async_setup_past_startup_timeout_fails_the_boot():
    d = Daemon("--startup-timeout", "1", app="apps.booting:slow_setup", workers=1, env={"SETUP_SECONDS": "30"})
    try:
        assert d.wait_exit(timeout=20) == 3
        assert "the async setup(server) did not complete within startup_timeout (1 s)" in d.log(), d.log()
    finally:
        d.cleanup()
