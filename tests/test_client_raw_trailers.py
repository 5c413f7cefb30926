"""``res.raw_trailers`` and ``res.trailers`` against Node v20's client on the wire.

A raw socket server answers ``/<n>`` with case n's bytes and its FIN; Node's client (a
node script) and prefork's run every case one after the other and log, for each:
``raw_trailers``/``trailers`` when the response comes (empty), again once the parser
has completed the message while nobody reads it yet (filled, before ``end``), and at
``end`` with the body and the head's kept fields (raw count and map), and the
``raw_trailers`` and ``trailers`` objects taken when the response came (Node fills that
``trailers`` object, and replaces ``rawTrailers`` with a new list). Cases: no
trailers, a Content-Length body, repeated fields in mixed case (``set-cookie``,
``cookie``, the single-valued ones, the rest), blanks around a value, and Node's caps on
many fields (trailers and head, default and ``max_headers_count``).
"""

import asyncio
import json

import pytest

from case_server import both_events, capped_exchange
from harness import NODE


def _chunked(trailers, head=b""):
    return (b"HTTP/1.1 200 OK\r\n" + head + b"Transfer-Encoding: chunked\r\n\r\n"
            b"2\r\nhi\r\n3\r\nyou\r\n0\r\n" + trailers + b"\r\n")


def _many(count, name=b"T"):
    return b"".join(b"%s%d: v%d\r\n" % (name, i, i) for i in range(count))


# (the response's bytes, the request's max_headers_count: None for Node's default)
CASES = [
    (_chunked(b""), None),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", None),
    (_chunked(b"X-T: 1\r\nx-t: 2\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nExpires: one\r\nEXPIRES: two\r\n"
              b"Cookie: c=3\r\ncookie: d=4\r\nX-Blank:  spaced \t\r\nX-Empty:\r\nServer-Timing: db;dur=5\r\n"),
     None),
    (_chunked(_many(31)), None),
    (_chunked(_many(32)), None),
    (_chunked(_many(1100)), None),  # Node keeps 1023 raw pairs, and maps them all
    (_chunked(_many(1010)), None),
    (_chunked(_many(40)), 10),
    (_chunked(_many(1100)), 0),  # no cap
    (_chunked(b"X-T: last\r\n", _many(1100, b"H")), None),  # the head's caps (Transfer-Encoding cut)
    (_chunked(b"X-T: 1\r\n", _many(31, b"H")), 10),  # a map cut, the raw list whole
    (_chunked(_many(40)), 10.7),  # (Node's `<< 1`: whole)
    (_chunked(b"", _many(40, b"H")), "10"),  # not a number: the default
]


# (Node's side: NODE_CASES, cases[n] the cap)
NODE_EXCHANGE = r"""
const log = (...a) => events.push(a);
const exchange = (n) => {
  const req = capped(n);
  req.on('error', (e) => { log(n, 'error', e.code); one(n + 1); });
  req.on('response', (res) => {
    const early = [res.rawTrailers, res.trailers];  // (references: filled or replaced later?)
    log(n, 'response', JSON.parse(JSON.stringify(early)));
    const deadline = Date.now() + 5000;
    const read = () => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => log(n, 'end', Buffer.concat(chunks).toString('latin1'), res.rawHeaders.length,
                              res.headers, res.rawTrailers, res.trailers, early));
      res.on('close', () => one(n + 1));
    };
    const waitComplete = () => {
      if (!res.complete && Date.now() < deadline) return setImmediate(waitComplete);
      log(n, 'complete', res.complete, res.readableEnded, res.rawTrailers.length);
      read();
    };
    waitComplete();
  });
};
"""


def _trailers(port, n, log, over):
    """Case n's exchange: the trailers when the response comes, once the message is
    complete (read by nobody yet), and at ``end``."""
    def on_response(res):
        loop = asyncio.get_running_loop()
        early = [res.raw_trailers, res.trailers]  # (references: filled or replaced later?)
        log("response", json.loads(json.dumps(early)))
        deadline = loop.time() + 5

        def read():
            chunks = []
            res.on("data", chunks.append)
            res.on("end", lambda: log("end", b"".join(chunks).decode("latin-1"), len(res.raw_headers),
                                      res.headers, res.raw_trailers, res.trailers, early))
            res.on("close", over)

        def wait_complete():
            if not res.complete and loop.time() < deadline:
                loop.call_soon(wait_complete)
                return
            log("complete", res.complete, res.readable_ended, len(res.raw_trailers))
            read()
        wait_complete()
    capped_exchange(port, n, CASES[n][1], log, over, on_response)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_raw_trailers_and_trailers_as_node_gives_them():
    ours, node = both_events(CASES, _trailers, NODE_EXCHANGE, as_json=True)
    assert len(node) == len(ours) == 3 * len(CASES)
    for theirs, mine in zip(node, ours):
        assert mine == theirs
    # what the comparison stands on: filled before 'end', with Node's caps
    complete = {e[0]: e for e in ours if e[1] == "complete"}
    assert complete[2] == [2, "complete", True, False, 22]
    assert complete[5][4] == 2 * 1023 and complete[8][4] == 2 * 1100 and complete[7][4] == 2 * 31
