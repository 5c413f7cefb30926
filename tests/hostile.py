"""Shared helpers of the hostile-input tests (tests/test_hostile_http*.py).

Responses are read back with httptools' own response parser, so a response whose
framing does not match its bytes (a stray chunk, a missing length) shows up as a parse
error or as the wrong number of responses, not as a string that happens to match.
"""

import os
import socket
import time

import httptools

from daemon import Daemon, wait_until

LAST = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"  # ends a pipeline: the server closes


def open_fds(pid="self"):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_fds_at_most(baseline, pid="self", timeout=10):
    wait_until(lambda: open_fds(pid) <= baseline, timeout,
               what=f"fd count of {pid} back to {baseline} (now {open_fds(pid)})")


def rss(pid):
    """The resident memory of process ``pid``, in bytes."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def upload_count_daemon(*options):
    """A daemon of one worker (``d.worker``) serving tests/apps/upload_count.py (it counts
    the body bytes it takes; ``taken(d)`` reads the count); the caller cleans it up."""
    d = Daemon(*options, app="apps.upload_count:setup", workers=1)
    try:
        d.wait_ready(timeout=30)
        [d.worker] = d.wait_workers(1, timeout=30)
    except BaseException:
        d.cleanup()
        raise
    return d


def taken(d):
    """The body bytes the upload-count app has taken so far."""
    data = d.request("/count")
    assert data.startswith(b"HTTP/1.1 200 OK"), data
    return int(data.rpartition(b"\r\n\r\n")[2])


def responses(data):
    """[(status, {lower-case name: value}, body)] of the responses in ``data``, parsed
    strictly; a trailing partial response is not listed, and bytes that are not a
    well-framed response raise httptools.HttpParserError."""
    out = []
    state = {}

    class Collect:
        def on_message_begin(self):
            state["headers"] = {}
            state["body"] = []

        def on_header(self, name, value):
            state["headers"][name.decode("latin-1").lower()] = value.decode("latin-1")

        def on_body(self, body):
            state["body"].append(bytes(body))

        def on_message_complete(self):
            out.append((parser.get_status_code(), state["headers"], b"".join(state["body"])))

    parser = httptools.HttpResponseParser(Collect())
    parser.feed_data(data)
    return out


def read_to_close(sock, timeout=10.0):
    """Every byte until the peer closes (a reset counts); fails past ``timeout``."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the server did not close; got {got[:300]!r}"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        except socket.timeout:
            continue  # the assertion above reports it
        if not chunk:
            return got
        got += chunk


def dechunked(body):
    """The bytes of a chunked body (its chunks joined; what follows the last is dropped)."""
    out = bytearray()
    while body:
        line, _, body = body.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if not size:
            break
        out += body[:size]
        body = body[size + 2:]
    return bytes(out)


def exchange(port, data, timeout=10.0):
    """Send ``data`` on a new connection and read until the server closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        return read_to_close(sock, timeout)
    finally:
        sock.close()
