"""A coroutine listener that raises SystemExit or KeyboardInterrupt ends the worker as a
plain listener's does (the master replaces it): asyncio raises either out of the loop's
run, and the task is no failing listener on top of that. It was one too: logged as an
"error in a request listener", and the client of a KeyboardInterrupt got a 500 from the
worker on its way out (a plain listener's gets nothing)."""

import os
import socket

import pytest

from hostile import read_to_close

APP = """
import asyncio

def setup(server):
    async def on_request(req, res):
        await asyncio.sleep(0.01)
        if req.url == "/exit":
            raise SystemExit(3)
        raise KeyboardInterrupt()
    server.on("request", on_request)
"""


@pytest.mark.parametrize("path, status", [("/exit", 3), ("/interrupt", 130)])
def test_a_coroutine_ending_the_worker_is_no_failing_listener(daemons, tmp_path, path, status):
    (tmp_path / "fatal_app.py").write_text(APP)
    d = daemons(app="fatal_app:setup", workers=1,
                env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        assert read_to_close(sock) == b""  # the worker went: no 500 from it
    d.wait_log(rf"died \(exit status {status}\)")
    assert "error in a request listener" not in d.log()
