"""``wsgi.errors`` answered ``write``, ``writelines`` and ``flush`` only: a library handed
it as its stream that asked what ``io`` answers of any text stream (``isatty()`` to
decide on colours, ``writable()``, ``closed``, ``fileno()``, ``encoding``, a ``with``)
got an ``AttributeError`` and the request a 500, where gunicorn's ``wsgi.errors`` (an
``io`` stream) answers them. It now answers them as a writable text stream that is no
terminal and has no descriptor; ``close()`` leaves it open, since the worker's calls
share it: the next request still logs through it."""

import io
import logging
import time
import urllib.request

import pytest

from prefork.wsgi import WSGIAdapter


def app(environ, start_response):
    errors = environ["wsgi.errors"]
    try:
        errors.fileno()
        descriptor = "a descriptor"
    except io.UnsupportedOperation:  # (an OSError, as io raises it)
        descriptor = "no descriptor"
    with errors as stream:
        answers = [stream.writable(), stream.readable(), stream.seekable(), stream.isatty(), stream.closed,
                   stream.encoding, descriptor]
        stream.close()  # (an app or library that closes its stream)
    print("logged from", environ["PATH_INFO"], file=errors)
    body = repr(answers).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.mark.parametrize("threads", [1, 4])
def test_wsgi_errors_answers_what_io_asks_of_a_writable_text_stream(serve, caplog, threads):
    caplog.set_level(logging.ERROR, logger="prefork.wsgi")
    adapter = WSGIAdapter(app, threads=threads)
    st = serve(lambda server, _st: adapter.setup(server))
    try:
        for path in ("/first", "/second"):
            with urllib.request.urlopen(f"http://127.0.0.1:{st.port}{path}", timeout=5) as response:
                assert response.status == 200
                assert response.read() == b"[True, False, False, False, False, 'utf-8', 'no descriptor']"
        wanted = ["logged from /first", "logged from /second"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and [r.getMessage() for r in caplog.records] != wanted:
            time.sleep(0.01)
        assert [r.getMessage() for r in caplog.records] == wanted  # (a closed stream still logs)
    finally:
        adapter.close()
