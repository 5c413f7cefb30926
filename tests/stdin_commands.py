"""The test servers' control channel (tests/ref_server.py, tests/echo_server.py): one
command a line on standard input, read by the server's own loop; the input's end exits."""

import os
import sys


def read_commands(loop, commands):
    """Call ``commands[line]()`` for each line that comes on stdin (unknown lines are
    ignored); ``exit`` and the end of stdin end the process."""
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = [b""]

    def on_stdin():
        try:
            data = os.read(stdin, 4096)
        except BlockingIOError:
            return
        if not data:
            sys.exit(0)
        pending[0] += data
        while b"\n" in pending[0]:
            line, pending[0] = pending[0].split(b"\n", 1)
            cmd = line.decode().strip()
            if cmd == "exit":
                sys.exit(0)
            if cmd in commands:
                commands[cmd]()
    loop.add_reader(stdin, on_stdin)
