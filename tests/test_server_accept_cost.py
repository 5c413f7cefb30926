"""Accepting a connection makes no enum and runs none of the standard library's Python
socket layer: ``socket.accept()`` read the listener's ``family`` and ``type`` (two
``IntEnum`` conversions) for every connection, and its ``socket.socket`` wrapper cost
a Python ``__init__`` at the accept and two Python calls at the close; together about
a tenth of a ``Connection: close`` request's instructions (bench/instructions.py
``--request close``). Counted on the server's loop thread over whole closed
connections, TCP and UNIX."""

import os
import socket
import sys

import pytest

import prefork

from test_call_budget_close import ClosingRig
from test_call_budget import on_request

STDLIB_SOCKET = os.path.realpath(socket.__file__)
STDLIB_ENUM = os.path.realpath(sys.modules["enum"].__file__)


def stdlib_calls(rig, connect, count):
    """Calls into socket.py's and enum.py's Python code on the loop thread while
    ``count`` connections are made, answered and closed."""
    seen = {}
    names = {}

    def profile(frame, event, arg):
        if event == "call":
            name = frame.f_code.co_filename
            where = names.get(name)
            if where is None:
                where = names[name] = os.path.realpath(name)
            if where in (STDLIB_SOCKET, STDLIB_ENUM):
                key = f"{os.path.basename(where)}:{frame.f_code.co_name}"
                seen[key] = seen.get(key, 0) + 1
    rig.on_loop(sys.setprofile, profile)
    try:
        rig.requests(count, connect)
    finally:
        rig.on_loop(sys.setprofile, None)
    return seen


def test_accepting_a_tcp_connection_makes_no_enum(tmp_path):
    rig = ClosingRig("bare", tmp_path)
    try:
        port = rig.server.address()["port"]
        connect = lambda: socket.create_connection(("127.0.0.1", port), timeout=30)  # noqa: E731
        stdlib_calls(rig, connect, 3)  # warm: the listener's family, read once
        seen = stdlib_calls(rig, connect, 10)
        closed = []
        rig.on_loop(lambda: closed.append(rig.server.stats.connections_total))
    finally:
        rig.close()
    assert seen == {}, seen
    assert closed and closed[0] >= 13


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no UNIX sockets")
def test_accepting_a_unix_connection_makes_no_enum(tmp_path):
    rig = ClosingRig("bare", tmp_path)
    path = str(tmp_path / "s.sock")
    servers = []
    try:
        def start():
            server = prefork.create_server(on_request, loop=rig.loop)
            server.listen(path)
            servers.append(server)
        rig.on_loop(start)

        def connect():
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(30)
            client.connect(path)
            return client
        stdlib_calls(rig, connect, 3)
        seen = stdlib_calls(rig, connect, 10)
    finally:
        for server in servers:
            rig.on_loop(server.close)
        rig.close()
    assert seen == {}, seen
