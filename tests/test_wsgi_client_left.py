"""A client that leaves in the middle of a WSGI body with a Content-Length: the body is
cut because nobody reads it, not because the app sent too little, so the error log has
no "less than its Content-Length" line (an app error) for it, on the loop and on threads;
the worker goes on serving."""

import textwrap

import pytest

from daemon import Daemon
from harness import reading_client, reset

APP = """
    BLOCK = b"w" * 65536
    COUNT = 256  # 16 MiB

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/big":
            start_response("200 OK", [("Content-Length", str(len(BLOCK) * COUNT))])
            return (BLOCK for _ in range(COUNT))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
"""


@pytest.mark.parametrize("threads", [1, 4])
def test_a_client_leaving_mid_body_is_not_an_app_error(tmp_path, threads):
    (tmp_path / "leaving.py").write_text(textwrap.dedent(APP))
    d = Daemon("--app-dir", str(tmp_path), "--interface", "wsgi", "--threads", str(threads), "--log-level", "debug",
               app="leaving:app", workers=1)
    try:
        d.wait_ready()
        reset(reading_client(d.port, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))  # 15 MiB before the end
        d.wait_log(r"the client left \d+ bytes before its Content-Length|client gone during GET /big")  # (debug)
        assert b"200 OK" in d.request("/")
        assert "less than its Content-Length" not in d.log(), d.log()
    finally:
        d.cleanup()
