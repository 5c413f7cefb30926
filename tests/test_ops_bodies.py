"""A body sent to the operations endpoints (none takes one): the master answers and
closes the connection as soon as the answer is out, rather than read a body nobody
asked for for up to its request timeout and a close's linger (a client streaming
bodies kept the master's loop reading gigabytes). A small body sent whole still gets
its answer intact. Real daemon; every process is killed by PID at the end."""

import socket
import time


def test_a_streamed_body_is_cut_off_once_answered(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n")
        chunk = b"x" * 65536
        deadline = time.monotonic() + 8  # the old code read on for 10 s (its request timeout)
        closed = False
        while time.monotonic() < deadline:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            except socket.timeout:  # the master stopped reading but kept the connection
                break
        assert closed, "the master went on reading the body"
        assert time.monotonic() < deadline - 5, "the connection was cut late"
    finally:
        sock.close()


def test_a_small_body_sent_whole_gets_its_answer(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    sock = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5)
    try:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        answer = read_to(sock, b"method not allowed\n")
        assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), answer
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection is kept
        assert read_to(sock, b"\n").startswith(b"HTTP/1.1 200 OK")
    finally:
        sock.close()


def read_to(sock, end):
    """Bytes until they end with ``end`` (the peer closing first fails the test)."""
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data
