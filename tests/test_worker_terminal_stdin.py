"""A daemon started from a terminal (its standard input and controlling terminal), with
an app that reads standard input while it loads: a worker is never in the terminal's
foreground process group, so the read raised TTIN, which the worker catches, and was
retried for ever: the worker spun the CPU and never booted. Its standard input is now
``/dev/null``: the read ends at once, the worker boots and serves."""

import fcntl
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import termios

from daemon import children, kill_all, python_env, wait_until
from harness import read_until_close

HERE = os.path.dirname(os.path.abspath(__file__))


def _controlling_terminal():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # (the new session's terminal: its stdin)


def test_a_worker_reading_a_terminal_at_load_gets_the_end_of_input(tmp_path):
    path = str(tmp_path / "s.sock")
    master, slave = pty.openpty()
    env = python_env()
    env["PYTHONPATH"] = os.pathsep.join([HERE, os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "-b", f"unix:{path}", "-w", "1", "--metrics-bind", "",
                             "apps.reads_stdin:setup"], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, preexec_fn=_controlling_terminal)
    os.close(slave)
    output = bytearray()

    def drain():
        try:
            while True:
                if not select.select([master], [], [], 0)[0]:
                    return output
                output.extend(os.read(master, 65536))
        except OSError:
            return output

    seen = set()
    try:
        wait_until(lambda: b"workers ready" in drain(), 10, what=lambda: f"the worker booted:\n{bytes(output).decode()}")
        seen.update(children(proc.pid))
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = read_until_close(sock)
        assert answer.endswith(b"read ''\n"), answer
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        seen.update(children(proc.pid) if proc.poll() is None else ())
        kill_all(proc, seen)
        os.close(master)
