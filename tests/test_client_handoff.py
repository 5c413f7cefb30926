"""Responses that end at their head (101, CONNECT, HEAD) after 1xx heads in the same
read: what follows the final head is handed over (the ``upgrade``/``connect`` head), or
the socket is kept, counting from the final head's end, not the first head's."""

import json

import pytest

from harness import NODE
from test_client import ScriptedServer, _normalise, run_node, run_prefork
from test_hostile_client import RawServer, fetch_all, read_head
import prefork

UPGRADE = [["Connection", "Upgrade"], ["Upgrade", "x"]]
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"
SCENARIOS = {
    "103 and 101 in one read": (
        {"headers": UPGRADE, "listen": ["upgrade"]},
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + SWITCH + b"FRAME"),
    "102, 103 and 101 in one read": (
        {"headers": UPGRADE, "listen": ["upgrade"]},
        b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n" + SWITCH + b"FRAME"),
}


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_an_upgrade_after_1xx_hands_over_what_follows_its_head(server, name):
    options, reply = SCENARIOS[name]
    script = [("head",), ("send", reply), ("hold", 0.5)]
    sc = dict(options, port=server.port)
    server.serve(script)
    ours = run_prefork(sc)
    server.wait()
    assert ["upgrade", 101, "FRAME"] in ours
    if NODE is not None:
        server.serve(script)
        theirs = run_node(sc)
        server.wait()
        assert _normalise(ours) == _normalise(json.loads(json.dumps(theirs)))


def test_a_connect_answered_by_a_100_hands_over_what_follows_the_100(server):
    """(Node's client takes any answer to CONNECT, a 100 too, for its response, and hands
    the 200 head after it over as the tunnel's first bytes: so does prefork's;
    tests/test_client_connect_informational.py compares with Node.)"""
    server.serve([("head",), ("send", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection Established\r\n\r\n"
                                      b"EXTRA"), ("hold", 0.5)])
    ours = run_prefork({"port": server.port, "method": "CONNECT", "path": "example.invalid:443",
                        "listen": ["connect"]})
    server.wait()
    assert ["connect", 100, "HTTP/1.1 200 Connection Established\r\n\r\nEXTRA"] in ours, ours


def test_a_head_answer_after_a_103_keeps_its_socket():
    def handler(conn, index):
        while True:
            head = read_head(conn)
            if not head:
                return
            if head.startswith(b"HEAD "):
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    srv = RawServer(handler)
    try:
        results = fetch_all(srv.port, ["HEAD", "GET"], prefork.Agent())
    finally:
        srv.close()
    assert results == [(200, b"", False), (200, b"hello", True)]  # as Node's client does
    assert srv.accepted == 1
