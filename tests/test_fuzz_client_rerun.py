"""The client fuzz runs a case that differs from Node in a batch again alone (up to
twice) before it is a finding: under load prefork's client sent a second request a
little later than Node's did, after the server's reset (case 8474312-3967: "write
ECONNRESET" where Node said "read ECONNRESET"), a difference of the batch's load alone."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_fuzz_client_node import ServerProcess, differs_alone  # noqa: E402

# (fuzz_client_node_inputs.cases(8474312, 3968)[3967])
RESET_AFTER_RESPONSE = {
    "method": "GET", "end": "rst", "agent": "keep", "reader": "late",
    "reads": [b"HTTP/1.1 200 a\tb\r\nTrailer: \x80\xff\r\nETag: \r\nTrailer: websocket\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: text/html\r\n\r\n"]}


def test_a_case_that_agrees_with_node_when_run_again_alone_is_not_a_finding():
    case = dict(RESET_AFTER_RESPONSE, id="8474312-3967")
    server = ServerProcess()
    try:
        assert not differs_alone(server, case)
    finally:
        server.close()
