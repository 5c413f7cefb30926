"""The first answer to CONNECT, whatever its status (a 1xx too), is the one the
``connect`` listener gets, with what follows its head; no ``continue`` or
``information`` comes first. As Node's client, against the same raw server."""

import json

import pytest

from harness import NODE
from test_client import ScriptedServer, _normalise, run_node, run_prefork


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


SCENARIOS = {
    "100 then 200, listened": (
        {"listen": ["connect"]},
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nEXTRA",
        ["connect", 100, "HTTP/1.1 200 OK\r\n\r\nEXTRA"]),
    "103 then 200, listened": (
        {"listen": ["connect"]},
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        ["connect", 103, "HTTP/1.1 200 OK\r\n\r\n"]),
    "100 then 200, nobody listening": (
        {}, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nEXTRA", None),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_first_answer_to_connect_is_the_connect_answer(server, name):
    options, reply, expected = SCENARIOS[name]
    sc = dict(options, port=server.port, method="CONNECT", path="example.com:443")
    script = [("head",), ("send", reply), ("hold", 0.3)]
    server.serve(script)
    ours = run_prefork(sc)
    server.wait()
    names = [e[0] for e in ours]
    assert "continue" not in names and "information" not in names and "response" not in names
    assert names.count("close") == 1 and "error" not in names
    if expected is not None:
        assert expected in ours
    if NODE is not None:
        server.serve(script)
        theirs = run_node(sc)
        server.wait()
        assert _normalise(ours) == _normalise(json.loads(json.dumps(theirs)))
