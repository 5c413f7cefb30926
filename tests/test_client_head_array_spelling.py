"""The ``headers`` option as Node's flat raw list or as pairs: a name repeated with
another spelling keeps that spelling on its own line, as Node's client writes an
array's pairs (prefork wrote every line of the name with its first spelling). Host,
which prefork adds to an array's fields (documented), is left out of the comparison."""

import asyncio
import json

import prefork
from harness import node_events
from test_client_head_text_encoding import heads as head_lines

CASES = {
    "flat": ["A", "1", "a", "2", "A", "4", "X-Y", "3"],
    "pairs": [["X-Tag", "1"], ["x-tag", "2"], ["X-TAG", "3"]],
    "flat-host": ["Host", "h", "host", "i"],
}

NODE = r"""
const port = %d, cases = %s, names = Object.keys(cases);
const one = (i) => {
  if (i === names.length) return done();
  const req = http.request({host: '127.0.0.1', port, path: '/' + names[i], headers: cases[names[i]], agent: false});
  req.on('response', (res) => { res.resume(); res.on('end', () => one(i + 1)); });
  req.end();
};
one(0);
"""


def heads(drive):
    """{path: the head's field lines but Connection} for each request ``drive`` sends."""
    return head_lines(drive, keep=lambda line: ":" in line and not line.startswith("Connection:"))


def prefork_client(port):
    async def main():
        for name, headers in CASES.items():
            req = prefork.request({"host": "127.0.0.1", "port": port, "path": "/" + name, "headers": headers,
                                   "agent": False, "set_host": name == "flat-host"})
            req.end()
            res = await asyncio.wait_for(req.response(), 4)
            await asyncio.wait_for(res.read(), 4)
    asyncio.run(main())


def test_a_repeated_name_in_a_header_array_keeps_each_spelling_as_node_writes_it():
    expected = heads(lambda port: node_events(NODE % (port, json.dumps(CASES))))
    assert expected["/flat"] == ["A: 1", "a: 2", "A: 4", "X-Y: 3"]
    assert heads(prefork_client) == expected
