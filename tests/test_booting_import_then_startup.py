"""The import is bounded by ``timeout``, a lifespan startup that heartbeats by
``startup_timeout``: a worker whose import used most of ``timeout`` is not aborted
early in its lifespan startup (its first heartbeat came one interval into the step)."""

from daemon import Daemon


def test_a_lifespan_startup_after_an_import_that_used_most_of_timeout_boots_and_serves():
    d = Daemon("--interface", "asgi", "--timeout", "3", app="apps.asgi_slow_import_and_startup:app", workers=1,
               env={"IMPORT_SECONDS": "2.5", "STARTUP_SECONDS": "6"})
    try:
        d.wait_ready(timeout=30)
        assert d.request("/").endswith(b"served")
        assert "abort" not in d.log(), d.log()
    finally:
        d.cleanup()
