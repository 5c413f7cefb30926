"""A line longer than PIPE_BUF written to a pipe is cut in its middle (``...``) never
inside a ``\\xHH`` escape of the client's text: each escape in the line is whole.
A real daemon writing its access log to a FIFO read by ``cat``; killed by PID."""

import os
import re
import select
import socket
import subprocess

from daemon import wait_until
from harness import read_until_close
from logline import LINE


def test_a_line_cut_for_a_pipe_keeps_every_escape_whole(daemons, tmp_path):
    fifo, out = tmp_path / "access.fifo", tmp_path / "out.txt"
    os.mkfifo(fifo)
    with open(out, "wb") as sink:
        reader = subprocess.Popen(["cat", str(fifo)], stdout=sink)
    try:
        d = daemons("--access-log", str(fifo), "--access-log-flush", "0", workers=1)
        d.wait_ready(timeout=30)
        agent = "é".encode() * 3000  # escaped as \xC3\xA9 each: 24,000 bytes
        paths = [b"/" + b"p" * pad for pad in range(8)]  # every alignment of the cut against the escapes
        for path in paths:
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: " + agent
                         + b"\r\nConnection: close\r\n\r\n")
            assert b"200 OK" in read_until_close(sock)
            sock.close()
        # (whole lines only: the file may be read between two writes of cat's)
        lines = wait_until(lambda: (lambda got: got.splitlines() if got.endswith(b"\n") and got.count(b"\n") == len(paths)
                                    else None)(out.read_bytes()), 10,
                           what=lambda: f"{len(paths)} lines: {out.read_bytes()[-300:]!r}")
    finally:
        reader.kill()
        reader.wait(10)
    for line in lines:
        assert len(line) + 1 <= select.PIPE_BUF and b"..." in line, line
        assert LINE.fullmatch(line.decode()), line  # every quoted field: only whole \xHH escapes
        agent_field = LINE.fullmatch(line.decode()).group(7)
        assert re.fullmatch(r"(\\xC3\\xA9)*(\\xC3|)\.\.\.(\\xA9|)(\\xC3\\xA9)*", agent_field), agent_field
