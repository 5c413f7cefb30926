"""A client response's ``http_version_major``/``http_version_minor`` (a 1xx's too),
``url`` and ``method``, against Node v20's client (``httpVersionMajor``,
``httpVersionMinor``; Node's client response has an empty ``url`` and a null
``method``). The raw socket server of tests/case_server.py answers."""

import asyncio

import pytest

import prefork
from harness import NODE
from case_server import CaseServer, node_run

CASES = [
    (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",),
]

NODE_SCRIPT = r"""
const http = require('http');
const events = [];
const done = () => process.stdout.write(JSON.stringify(events), () => process.exit(0));
const port = %d;
const one = (n) => {
  if (n === %d) return done();
  const req = http.get({ host: '127.0.0.1', port, path: '/' + n, agent: false });
  req.on('information', (i) => events.push([n, 'information', i.httpVersion, i.httpVersionMajor, i.httpVersionMinor]));
  req.on('response', (res) => {
    events.push([n, 'response', res.url, res.method, res.httpVersion, res.httpVersionMajor, res.httpVersionMinor]);
    res.resume();
    res.on('close', () => one(n + 1));
  });
};
one(0);
"""


def prefork_events(port):
    events = []

    async def main():
        for n in range(len(CASES)):
            req = prefork.request({"host": "127.0.0.1", "port": port, "path": f"/{n}", "agent": False})
            req.on("information", lambda i, n=n: events.append(
                [n, "information", i.http_version, i.http_version_major, i.http_version_minor]))
            req.end()
            res = await req
            events.append([n, "response", res.url, res.method, res.http_version, res.http_version_major,
                           res.http_version_minor])
            await res.read()
    asyncio.run(main())
    return events


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_version_numbers_url_and_method_as_node_gives_them():
    server = CaseServer(CASES)
    try:
        ours = prefork_events(server.port)
        node = node_run(NODE_SCRIPT % (server.port, len(CASES)))
    finally:
        server.close()
    assert ours == node
    assert ours[1] == [0, "response", "", None, "1.0", 1, 0]
