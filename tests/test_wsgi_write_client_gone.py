"""An app that streams a long answer with the legacy ``write()`` to a client that
stops reading and then leaves: its next ``write()`` raises an ``OSError``
(``ClientDisconnected``), as under gunicorn, and the app stops there; it does not go on
writing the whole answer to nothing (with ``threads = 1``, into a temporary file while
it holds the loop). On the loop and on threads; the worker goes on serving."""

import re
import textwrap
import time

import pytest

from daemon import Daemon, wait_until
from harness import reading_client, reset

APP = """
    import threading
    import time

    BLOCK = b"w" * (1 << 20)
    COUNT = 400  # 400 MiB: written whole, a client gone long before the end is missed
    STATE = {"written": 0, "outcome": "running"}
    LOCK = threading.Lock()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/export":
            write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
            try:
                for _ in range(COUNT):
                    write(BLOCK)
                    with LOCK:
                        STATE["written"] += 1
                    time.sleep(0.005)
            except OSError as exc:
                with LOCK:
                    STATE["outcome"] = "raised " + type(exc).__name__
                raise
            with LOCK:
                STATE["outcome"] = "wrote all"
            return []
        with LOCK:
            body = ("%s %d" % (STATE["outcome"], STATE["written"])).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
"""


def _state(d):
    data = d.request("/state", timeout=30)
    return data.partition(b"\r\n\r\n")[2].decode()


@pytest.mark.parametrize("threads", [1, 4])
def test_write_to_a_client_gone_raises(tmp_path, threads):
    (tmp_path / "exporting.py").write_text(textwrap.dedent(APP))
    d = Daemon("--app-dir", str(tmp_path), "--interface", "wsgi", "--threads", str(threads), "--timeout", "60",
               app="exporting:app", workers=1)
    try:
        d.wait_ready()
        client = reading_client(d.port, b"GET /export HTTP/1.1\r\nHost: x\r\n\r\n", taking=1 << 20)
        time.sleep(0.2)  # (the app writes on, the client reads no more: its writes wait)
        reset(client)
        left_at = time.monotonic()
        state = wait_until(lambda: (lambda s: s if not s.startswith("running") else None)(_state(d)), 60,
                           what="the export's end")
        outcome, written = re.fullmatch(r"(.*) (\d+)", state).groups()
        assert outcome.startswith("raised"), (state, time.monotonic() - left_at)
        assert int(written) < 200, state  # it stopped soon after the client left, not at the end
        assert _state(d) == state  # the worker serves on
    finally:
        d.cleanup()
