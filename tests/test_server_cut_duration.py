"""The access log line of a response cut by its failing code (the head out, then the
listener raised) counts its duration to the failure, as any response's runs to its end.
It ran to the last byte written before it: a coroutine that wrote its head, worked for
0.3 s and raised was logged as taking a few hundred microseconds."""

import os
import re
import socket

from daemon import wait_until
from hostile import read_to_close

APP = """
import asyncio

def setup(server):
    async def on_request(req, res):
        res.write("part")
        await asyncio.sleep(0.3)
        raise RuntimeError("the app failed after its head")
    server.on("request", on_request)
"""


def test_a_cut_responses_duration_runs_to_the_failure(daemons, tmp_path):
    (tmp_path / "cut_app.py").write_text(APP)
    access = tmp_path / "access.log"
    d = daemons("--access-log-format", "{s} {b} {D}", app="cut_app:setup", workers=1, access_log=str(access),
                env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_to_close(sock).endswith(b"4\r\npart\r\n")
    line = wait_until(lambda: access.exists() and access.read_text().strip(), 10, what="the access log line")
    status, sent, micros = re.fullmatch(r"(\d+) (\S+) (\d+)", line).groups()
    assert (status, sent) == ("200", "4")
    assert int(micros) >= 300_000, line
