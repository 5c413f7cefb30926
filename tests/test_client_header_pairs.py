"""The client request's ``headers`` as Node's arrays, ``[[name, value], ...]``: each pair
read as Node reads it (its first two items): a missing value is
``ERR_HTTP_INVALID_HEADER_VALUE``, a missing name ``ERR_INVALID_HTTP_TOKEN``, a third item
ignored; a short pair used to raise a bare ValueError with no code. The same table runs
through Node's ``http.request``, the reference (no connection is made: the request is
refused or destroyed at once)."""

import json
import subprocess

import pytest

import prefork

CASES = [[["X-A"]], [["X-A", "1", "2"]], [[]], [["X-A", "1"], ["X-B"]]]

NODE_SCRIPT = r"""
const http = require('http');
for (const h of %s) {
  try {
    const r = http.request({port: 9, host: '127.0.0.1', headers: h});
    r.on('error', () => {});
    r.destroy();
    console.log('ok');
  } catch (e) { console.log(e.code + ' ' + e.message); }
}
"""


def prefork_outcome(headers):
    try:
        req = prefork.request({"port": 9, "host": "127.0.0.1", "headers": headers})
    except Exception as err:  # noqa: BLE001 - compared with Node's
        return f"{getattr(err, 'code', type(err).__name__)} {err}"
    req.on("error", lambda err: None)
    req.destroy()
    return "ok"


def test_header_pairs_are_read_as_nodes_client_reads_them():
    node = subprocess.run(["node", "-e", NODE_SCRIPT % json.dumps(CASES)], capture_output=True, text=True,
                          timeout=30, check=True).stdout.splitlines()
    assert node == ["ERR_HTTP_INVALID_HEADER_VALUE Invalid value \"undefined\" for header \"X-A\"", "ok",
                    "ERR_INVALID_HTTP_TOKEN Header name must be a valid HTTP token [\"undefined\"]",
                    "ERR_HTTP_INVALID_HEADER_VALUE Invalid value \"undefined\" for header \"X-B\""]
    assert [prefork_outcome(headers) for headers in CASES] == node


@pytest.mark.parametrize("headers", [[["X-A", "1", "2"]], (("X-A", "1", "ignored"),)])
def test_a_pairs_third_item_is_ignored(headers):
    req = prefork.request({"port": 9, "host": "127.0.0.1", "headers": headers})
    req.on("error", lambda err: None)
    try:
        assert req.get_header("X-A") == "1"
    finally:
        req.destroy()
