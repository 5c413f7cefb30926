"""Hostile request text against the daemon's access log (default format, a real daemon).

Rules under test: whatever URL, Referer or User-Agent a client sends, each response is
one line of the combined format whose quoted fields cannot be closed early: a double
quote, a backslash and every byte outside printable ASCII come out as ``\\xHH``, so a
log reader splits every line into the fields the server wrote, and the escaped text
reads back as the bytes sent.
"""

import re
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from daemon import Daemon, children, kill_all, python_env, wait_until
from hostile import exchange, responses
from logline import LINE, log_lines, unescape

@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("access") / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", app="apps.hostile_app:setup", workers=1)
    d.access_path = path
    try:
        d.wait_ready(timeout=30)
        yield d
    finally:
        d.cleanup()


def access_lines(daemon):
    return log_lines(daemon.access_path)


TARGETS = [b'/q"uote', b"/back\\slash", b'/a"%20200%20-%20"-"%20"x', b"/plain?x=1"]
VALUES = [b'a" 200 1 "evil', b"back\\slash", b"latin-1 caf\xe9 \x85 next-line", b"\xff\xfe\t\"\\", b"-", b""]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("value", VALUES)
def test_client_text_never_forges_a_field_of_the_line(daemon, target, value):
    before = len(access_lines(daemon))
    request = (b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nReferer: r-" + value + b"\r\nUser-Agent: "
               + value + b"\r\nConnection: close\r\n\r\n")
    [(status, _, _)] = responses(exchange(daemon.port, request))
    assert status == 200
    lines = wait_until(lambda: access_lines(daemon)[before:] or None, 10, what="the access log line")
    assert len(lines) == 1, lines  # one response, one line: nothing the client sent ended it
    match = LINE.fullmatch(lines[0])
    assert match, lines[0]
    assert unescape(match.group(3)) == b"GET " + target + b" HTTP/1.1"
    assert match.group(4) == "200"
    assert unescape(match.group(6)) == b"r-" + value.strip(b" \t")
    assert unescape(match.group(7)) == value.strip(b" \t")


def test_long_lines_from_two_workers_on_one_pipe_stay_whole(tmp_path):
    """access_log = "-" under docker or systemd is a pipe or a socket that every worker
    writes to; a client picks the length of its line (a 16 KiB URL or User-Agent). A
    write longer than PIPE_BUF may interleave with another worker's, so such a line is
    cut to PIPE_BUF bytes (its start and end kept, ``...`` between) and every line read
    back is one worker's, with its status at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.hostile_app:setup", "--workers", "2",
                             "--bind", f"fd://{sock.fileno()}", "--metrics-bind", "", "--access-log", "-",
                             "--access-log-format", "{U} {s}", "--access-log-flush", "0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            pass_fds=(sock.fileno(),), env=python_env(), cwd=str(tmp_path))
    sock.close()
    pids = {proc.pid}
    try:
        got = bytearray()
        stop = threading.Event()

        def read_slowly():  # the pipe fills: writers wait inside their writes
            while not stop.is_set():
                chunk = proc.stderr.read1(4096)
                if not chunk:
                    return
                got.extend(chunk)
                time.sleep(0.002)

        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        wait_until(lambda: b"workers ready" in got, 30, what="the daemon ready")
        pids.update(children(proc.pid))

        def client(tag):
            for _ in range(40):
                with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                    conn.sendall(b"GET /" + tag * 12000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    while conn.recv(65536):
                        pass

        clients = [threading.Thread(target=client, args=(bytes((ord("A") + i,)),)) for i in range(6)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(120)
        wait_until(lambda: got.count(b" 200\n") >= 240, 30, what="every access line")
    finally:
        pids.update(children(proc.pid))
        kill_all(proc, pids)
        stop.set()
    lines = [line for line in bytes(got).split(b"\n") if line.startswith(b"/")]
    assert len(lines) == 240
    for line in lines:
        assert len(line) < select.PIPE_BUF, len(line)
        assert re.fullmatch(rb"/([A-F])\1*\.\.\.\1+ 200", line), line[:80] + b"..." + line[-80:]


def test_the_memory_of_clean_texts_is_bounded_and_never_lets_a_dirty_one_through():
    """The compiled line remembers which texts stood raw, so it need not look at them
    again: a client sending a new text per request cannot grow that memory past its
    bound, a long text is not kept, and a text that needs escaping is never kept."""
    from prefork import logformat

    checker = logformat.ClientText()
    for i in range(3 * logformat.SAFE_KEPT):
        assert checker.check(f"/unique/{i}") == [f"/unique/{i}"]
        assert len(checker.safe) <= logformat.SAFE_KEPT
    long_text = "/" + "a" * logformat.SAFE_LENGTH
    assert checker.check(long_text) == [long_text] and long_text not in checker.safe
    dirty = 'x" 200 1 "-'
    assert checker.check(dirty, "-") == ["x\\x22 200 1 \\x22-", "-"]
    assert dirty not in checker.safe and "-" in checker.safe
    assert checker.check(dirty) == ["x\\x22 200 1 \\x22-"]  # looked at again, every time
