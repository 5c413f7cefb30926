"""``res.headers_distinct`` and ``res.trailers_distinct`` (Node's ``headersDistinct`` and
``trailersDistinct`` on the client's IncomingMessage) against Node v20's client.

The raw socket server of tests/case_server.py answers each case; Node's client and
prefork's log, at ``end``: ``headers_distinct`` (and whether two reads give the same
object), ``trailers_distinct``. Cases: repeated fields in mixed case (the
single-valued ones and ``set-cookie`` too: every value is kept), no trailers, and a head
whose map ``max_headers_count`` cuts (the distinct view follows the map).
"""

import asyncio

import pytest

from case_server import CaseServer, both_events, capped_exchange, case_request
from harness import NODE

HEAD = (b"A: 1\r\na: 2\r\nSet-Cookie: x=1\r\nset-cookie: y=2\r\nContent-Type: t\r\ncontent-type: u\r\n"
        b"Cookie: c\r\nCookie: d\r\n")
CASES = [
    (b"HTTP/1.1 200 OK\r\n" + HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
     b"X-T: 1\r\nx-t: 2\r\nExpires: e\r\nEXPIRES: f\r\n\r\n", None),
    (b"HTTP/1.1 200 OK\r\n" + HEAD + b"Content-Length: 2\r\n\r\nhi", None),
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"H%d: %d\r\n" % (i % 7, i) for i in range(40)) +
     b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", 10),
]

# (Node's side: NODE_CASES, cases[n] the cap)
NODE_EXCHANGE = r"""
const exchange = (n) => {
  const req = capped(n);
  req.on('error', (e) => { events.push([n, 'error', e.code]); one(n + 1); });
  req.on('response', (res) => {
    res.resume();
    res.on('end', () => events.push([n, res.headersDistinct, res.headersDistinct === res.headersDistinct,
                                     res.trailersDistinct, res.trailersDistinct === res.trailersDistinct]));
    res.on('close', () => one(n + 1));
  });
};
"""


def _distinct(port, n, log, over):
    """Case n's exchange: the distinct views at ``end``."""
    def on_response(res):
        res.resume()
        res.on("end", lambda: log(res.headers_distinct, res.headers_distinct is res.headers_distinct,
                                  res.trailers_distinct, res.trailers_distinct is res.trailers_distinct))
        res.on("close", over)
    capped_exchange(port, n, CASES[n][1], log, over, on_response)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_distinct_fields_as_node_gives_them():
    ours, node = both_events(CASES, _distinct, NODE_EXCHANGE, as_json=True)
    assert ours == node
    assert ours[0][1]["set-cookie"] == ["x=1", "y=2"] and ours[0][3] == {"x-t": ["1", "2"], "expires": ["e", "f"]}


def test_trailers_distinct_read_before_the_end_is_filled_at_the_end():
    """Node's getter keeps the empty object it made before the end; prefork's fills it,
    as Node fills ``trailers`` (docs/node-compat.md)."""
    with CaseServer(CASES) as server:
        async def main():
            req = case_request(server.port, 0)
            seen = []

            def on_response(res):  # (in the head's read: before the parser reaches the end)
                seen.append(res.trailers_distinct)
                seen.append(dict(res.trailers_distinct))
            req.on("response", on_response)
            req.end()
            res = await req
            await res.read()
            early, copy = seen
            assert copy == {}
            assert res.trailers_distinct is early and early == {"x-t": ["1", "2"], "expires": ["e", "f"]}
        asyncio.run(main())
