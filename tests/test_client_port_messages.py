"""A refused port's error as Node 20's ``http.request`` words it, for ``port``,
``default_port`` (taken when the port is false) and ``local_port``: "Received type
number (70000)", "type string ('1_0')", "type boolean (true)", "an instance of Array",
a long string cut to 25 units and ``...``; and the strings JavaScript's ``Number()``
does not read (``1_0``, ``+0x50``, ``0x_50``) refused, as Node refuses them. prefork
named the value as Python writes it (``Received 70000.``, ``Received True``) and took
those three strings as ports 10 and 80."""

import asyncio
import json

import pytest

import prefork
from harness import NODE, node_events

PORTS = [70000, -1, 1.5, 65536, 1e21, "70000", "abc", " 80x", "0x50000", "1_0", "+0x50", "0x_50",
         "a" * 40, True, [1], {"a": 1}]
CASES = ([{"port": port} for port in PORTS] + [{"default_port": 70000}, {"default_port": True}]
         + [{"port": 1, "local_port": port} for port in (True, "80", [1])])
NODE_NAMES = {"port": "port", "default_port": "defaultPort", "local_port": "localPort"}

NODE_MESSAGES = r"""
for (const given of %s) {
  try { const req = http.request({host: '127.0.0.1', ...given}); req.on('error', () => {}); req.destroy(); log('no throw'); }
  catch (e) { log(e.code, e.message); }
}
done();
"""


def prefork_messages():
    loop = asyncio.new_event_loop()
    try:
        out = []
        for given in CASES:
            try:
                prefork.request({"host": "127.0.0.1", **given}, loop=loop).destroy()
                out.append(["no throw"])
            except (TypeError, ValueError) as err:
                out.append([err.code, str(err)])
        return out
    finally:
        loop.close()


def test_a_refused_port_is_worded_as_node_words_it():
    got = prefork_messages()
    assert got[0] == ["ERR_SOCKET_BAD_PORT", "Port should be >= 0 and < 65536. Received type number (70000)."]
    assert all(entry[0] != "no throw" for entry in got)
    if NODE is None:
        pytest.skip("node is not installed")
    node_cases = [{NODE_NAMES[name]: value for name, value in given.items()} for given in CASES]
    assert got == node_events(NODE_MESSAGES % json.dumps(node_cases))
