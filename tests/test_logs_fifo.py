"""A log FIFO with a live reader (``cat FIFO > file``): the daemon starts, serves and
writes its lines to the reader, which still reads when USR1 reopens the logs and the
workers are replaced. Real daemons, real processes; every process is killed by PID."""

import os
import signal
import socket
import subprocess

import pytest

from daemon import wait_until
from harness import read_until_close


@pytest.fixture
def reader(tmp_path):
    """``cat FIFO > out``: started before the daemon, as an operator's collector is."""
    fifo, out = tmp_path / "log.fifo", tmp_path / "out.txt"
    os.mkfifo(fifo)
    with open(out, "wb") as sink:
        proc = subprocess.Popen(["cat", str(fifo)], stdout=sink)
    proc.fifo, proc.out = str(fifo), out
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("which", ["--access-log", "--error-log"])
def test_a_fifo_with_a_reader_is_written_to_and_its_reader_kept(daemons, reader, which):
    d = daemons(which, reader.fifo, "--access-log-flush", "0", workers=2,
                *(["--access-log", "-"] if which == "--error-log" else []))
    wait_until(lambda: b"workers ready" in reader.out.read_bytes() or "workers ready" in d.log(), 15,
               what=lambda: f"the daemon ready (reader alive: {reader.poll() is None}):\n{d.log()}")
    def seen():
        return reader.out.read_bytes()
    assert b"200 OK" in d.request("/first")
    if which == "--access-log":
        wait_until(lambda: b'"GET /first HTTP/1.1" 200' in seen(), 10, what="the line in the reader's output")
    d.signal(signal.SIGUSR1)
    wait_until(lambda: b"log files reopened" in seen() or "log files reopened" in d.log(), 10, what="the reopen")
    d.signal(signal.SIGTTIN)  # a new worker opens the FIFO itself
    d.wait_workers(3)
    for _ in range(6):
        assert b"200 OK" in d.request("/after")
    if which == "--access-log":
        wait_until(lambda: seen().count(b'"GET /after HTTP/1.1" 200') == 6, 10, what="the lines after USR1")
    assert reader.poll() is None  # never given the end of its stream
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    reader.wait(10)  # the daemon gone, its stream ends
    if which == "--error-log":
        assert b"master exiting with status 0" in reader.out.read_bytes()


def test_a_worker_booting_after_its_fifo_lost_its_reader_still_boots_and_blocks_nobody(daemons, reader):
    d = daemons("--access-log", reader.fifo, "--access-log-flush", "0", workers=2)
    d.wait_ready(timeout=15)
    reader.kill()
    reader.wait(10)
    os.unlink(reader.fifo)
    os.mkfifo(reader.fifo)  # made anew, no reader yet
    worker = d.workers()[0]
    os.kill(worker, signal.SIGKILL)  # its replacement opens the access log by path
    wait_until(lambda: len(d.serving_workers()) == 2 and worker not in d.workers(), 15, what="a replacement")
    # (it crash-looped: cannot open the access log, ENXIO); and nobody blocks on the
    # pipe: 100 lines of 3 KB, more than a pipe holds, on both workers
    agent = "x" * 3000
    for i in range(100):
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as sock:
            sock.sendall(f"GET /n{i} HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n"
                         .encode())
            assert read_until_close(sock).startswith(b"HTTP/1.1 200 OK")
    with open(os.path.join(os.path.dirname(reader.fifo), "later.txt"), "wb") as sink:
        later = subprocess.Popen(["cat", reader.fifo], stdout=sink)
    try:
        def reopened_onto_the_reader():
            # a reader again: USR1 reopens the logs onto it (sent again until the reader,
            # a process just started, has come to its open of the FIFO)
            d.signal(signal.SIGUSR1)
            return b"200 OK" in d.request("/after") and wait_until(
                lambda: b"/after" in open(sink.name, "rb").read(), 0.5, what="the line") is True
        wait_until(lambda: _passes(reopened_onto_the_reader), 15, interval=0.2, what="a line to the new reader")
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        if later.poll() is None:
            later.kill()
        later.wait(10)


def _passes(check):
    try:
        return check()
    except TimeoutError:
        return False
