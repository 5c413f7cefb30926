"""``wsgi.errors`` held the start of a line per thread until its newline, a ``flush()``
or the end of the call that wrote it. A thread the app started (a background job) that
ended on a line without its newline had it lost: no call's end flushes that thread's,
and nothing was logged (gunicorn writes it as it comes). The line now goes to the log
when its thread ends.
"""

import logging
import threading
import time
import urllib.request

import pytest

from prefork.wsgi import WSGIAdapter


def app(environ, start_response):
    errors = environ["wsgi.errors"]
    job = threading.Thread(target=lambda: errors.write("the job's last words, no newline"))
    job.start()
    job.join()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize("threads", [1, 4])
def test_a_line_left_by_an_ending_thread_is_logged(serve, caplog, threads):
    caplog.set_level(logging.ERROR, logger="prefork.wsgi")
    adapter = WSGIAdapter(app, threads=threads)
    st = serve(lambda server, _st: adapter.setup(server))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{st.port}/", timeout=5) as response:
            assert response.read() == b"ok"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(r.getMessage() == "the job's last words, no newline" for r in caplog.records):
                break
            time.sleep(0.01)
        assert [r.getMessage() for r in caplog.records] == ["the job's last words, no newline"]
        assert adapter.errors.held == 0  # (no call's end is left flushing for it)
    finally:
        adapter.close()
