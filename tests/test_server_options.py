"""The server's construction options against Node v20's ``http.createServer``: the
default of ``headers_timeout`` follows ``request_timeout`` down (Node's
``min(60 s, requestTimeout)``), and the options Node checks at construction (the
timeouts, ``connections_checking_interval``, ``max_header_size``,
``require_host_header``) are refused with Node's codes when negative or of the wrong
type. Attributes set later are not checked, as in Node.

Each case is run on Node too (times there in ms) and must give the same outcome.
"""

import json
import subprocess

import pytest

import prefork
from harness import NODE

# (Node options, prefork options, outcome): outcome is an error code, or the
# (headers_timeout, request_timeout) pair the server ends with (seconds)
CASES = [
    ("{requestTimeout: 10000}", {"request_timeout": 10}, [10, 10]),
    ("{requestTimeout: 0}", {"request_timeout": 0}, [0, 0]),
    ("{requestTimeout: 90000}", {"request_timeout": 90}, [60, 90]),
    ("{headersTimeout: 2000, requestTimeout: 1000}", {"headers_timeout": 2, "request_timeout": 1},
     "ERR_OUT_OF_RANGE"),
    ("{headersTimeout: 2000, requestTimeout: 0}", {"headers_timeout": 2, "request_timeout": 0}, [2, 0]),
    ("{keepAliveTimeout: -1}", {"keep_alive_timeout": -1}, "ERR_OUT_OF_RANGE"),
    ("{keepAliveTimeout: '5'}", {"keep_alive_timeout": "5"}, "ERR_INVALID_ARG_TYPE"),
    ("{headersTimeout: -1}", {"headers_timeout": -1}, "ERR_OUT_OF_RANGE"),
    ("{requestTimeout: null}", {"request_timeout": None}, "ERR_INVALID_ARG_TYPE"),
    ("{connectionsCheckingInterval: -1}", {"connections_checking_interval": -1}, "ERR_OUT_OF_RANGE"),
    ("{maxHeaderSize: -1}", {"max_header_size": -1}, "ERR_OUT_OF_RANGE"),
    ("{maxHeaderSize: 'x'}", {"max_header_size": "x"}, "ERR_INVALID_ARG_TYPE"),
    ("{maxHeaderSize: 1.5}", {"max_header_size": 1.5}, "ERR_OUT_OF_RANGE"),
    ("{requireHostHeader: 'x'}", {"require_host_header": "x"}, "ERR_INVALID_ARG_TYPE"),
]


def prefork_outcome(options):
    try:
        server = prefork.create_server(**options)
    except (TypeError, ValueError) as exc:
        return exc.code
    return [server.headers_timeout, server.request_timeout]


@pytest.mark.parametrize("node_options,options,outcome", CASES, ids=[c[0] for c in CASES])
def test_construction_options_as_node_checks_them(node_options, options, outcome):
    assert prefork_outcome(options) == outcome


def test_node_gives_the_same_outcomes():
    if NODE is None:
        pytest.skip("node is not installed")
    script = "const http = require('http');\n" + "".join(
        f"try {{ const s = http.createServer({node}); console.log(JSON.stringify("
        f"[s.headersTimeout / 1000, s.requestTimeout / 1000])); }}"
        f" catch (e) {{ console.log(JSON.stringify(e.code)); }}\n" for node, _, _ in CASES)
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=10, check=True).stdout
    assert [json.loads(line) for line in out.splitlines()] == [outcome for _, _, outcome in CASES]


def test_attributes_set_later_are_not_checked():
    server = prefork.create_server()
    server.headers_timeout, server.request_timeout = 5, 1  # Node: no check either, and listen() works
    server.listen(0)
    try:
        assert server.listening
    finally:
        server.close()
