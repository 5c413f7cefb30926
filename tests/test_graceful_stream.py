"""A graceful stop whose connections outlast ``graceful_timeout`` (an endless stream):
the worker ends its loop a margin before the master's kill and exits on its own, so the
stop is clean (no "did not stop in time; killing it", status 0) and the worker's last
counts reach the master."""

import signal
import socket
import textwrap

from daemon import Daemon

APP = """
    import asyncio

    def setup(server):
        def on_request(req, res):
            res.write_head(200, {"Content-Type": "text/event-stream"})

            def tick():  # an event stream that never ends
                if not res.destroyed:
                    res.write(b"data: tick\\n\\n")
                    asyncio.get_running_loop().call_later(0.05, tick)
            tick()
        server.on("request", on_request)
"""


def test_a_stream_that_outlasts_the_grace_period_ends_with_the_worker_not_a_kill(tmp_path):
    (tmp_path / "stream.py").write_text(textwrap.dedent(APP))
    d = Daemon("--app-dir", str(tmp_path), "--graceful-timeout", "1.5", app="stream:setup", workers=1)
    client = None
    try:
        d.wait_ready()
        client = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        client.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"tick") < 3:
            data += client.recv(65536)
        d.signal(signal.SIGTERM)
        assert d.wait_exit(15) == 0
        log = d.log()
    finally:
        if client is not None:
            client.close()
        d.cleanup()
    assert "did not stop in time" not in log, log
    assert "stopped: exit status 0" in log, log
