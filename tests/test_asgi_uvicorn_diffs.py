"""Differences from uvicorn found by the differential fuzz (tests/fuzz_asgi_uvicorn.py)
where prefork was wrong, each fixed in prefork/asgi/ and held here on real sockets: the
daemon serves the fuzz's app (one worker), whose event lines say what the app saw and
what its sends raised."""

import json
import os
import socket
import struct

import pytest

from daemon import Daemon, wait_until


@pytest.fixture
def served(tmp_path):
    events = tmp_path / "events"
    events.touch()
    d = Daemon("--interface", "asgi", "--ws-ping-interval", "0", app="apps.fuzz_asgi:app", workers=1,
               env={"FUZZ_ASGI_EVENTS": str(events)})
    try:
        d.wait_ready(timeout=20)
        yield d, events
    finally:
        d.cleanup()


def records(events, rid, kind):
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    return [line for line in lines if line["id"] == rid and line["ev"] == kind]


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("mode", ["cl-long", "cl-short", "after", "echo"])
def test_sends_after_the_client_reset_are_dropped(served, mode):
    # The client resets the connection while the app waits for the rest of the body;
    # the app gets http.disconnect, then answers. Its sends are dropped without an error
    # whatever they hold (a body that disagrees with its Content-Length, a body after
    # the last one), as uvicorn drops them: spec 2.3, docs/asgi.md. prefork raised
    # RuntimeError from its Content-Length and order checks first.
    d, events = served
    rid = f"gone-{mode}"
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"POST /m/%s/ HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: %s\r\nContent-Length: 10\r\n\r\nabcde"
                 % (mode.encode(), rid.encode()))
    wait_until(lambda: records(events, rid, "begin"), 10, what="the app called")
    reset(sock)
    (record,) = wait_until(lambda: records(events, rid, "end"), 10, what="the app done")
    assert record["seen"][-1][0] == "http.disconnect", record
    assert record["log"] == ["returned"], record
    assert "Exception in ASGI application" not in d.log()


def test_the_worker_serves_on_after_dropped_sends(served):
    d, events = served
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"POST /m/cl-long/ HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: gone-next\r\nContent-Length: 10\r\n\r\nab")
    wait_until(lambda: records(events, "gone-next", "begin"), 10, what="the app called")
    reset(sock)
    wait_until(lambda: records(events, "gone-next", "end"), 10, what="the app done")
    answer = d.request("/m/echo/")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert os.path.exists(events)
