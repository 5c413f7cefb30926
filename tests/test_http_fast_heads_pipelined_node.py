"""The request parser's fast path on pipelined reads (each whole common head of a read,
head after head) against Node 20's own parser (``tests/node_parser.js``) and against the
llhttp path (``fast_heads = False``): 2 to 20 heads in one read, mostly common ones,
mixed with near-valid heads at the fast path's boundary and with other messages (a
body, a chunked body, an Upgrade, ``Connection: close``, HTTP/1.0, bytes llhttp
refuses), whole or split at a random offset. Errors are compared at their offset in all
the bytes sent (Node's ``bytesParsed`` in the read that held the error, plus the reads
before it), upgrades at theirs."""

import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_http_fast_heads_node as single  # noqa: E402
from harness import NODE  # noqa: E402

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

_COMMON = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /a?b=c HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
           b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", b"DELETE /d HTTP/1.1\r\n\r\n"]
_OTHER = single._LATER + [b"GET /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]


def _cases(rng, count):
    for _ in range(count):
        heads = []
        for _ in range(rng.randrange(2, 21)):
            roll = rng.random()
            heads.append(rng.choice(_COMMON) if roll < 0.6 else single.near_valid_head(rng) if roll < 0.85
                         else rng.choice(_OTHER))
        data = b"".join(heads)
        at = rng.randrange(1, len(data))
        yield [data]
        yield [data[:at], data[at:]]


def _compare(seed, count):
    node = single._node()
    try:
        cases = list(_cases(random.Random(seed), count))
        results = []
        for start in range(0, len(cases), 200):
            results += node.parse_many(cases[start:start + 200])
    finally:
        node.close()
    unexplained = []
    fast_taken = 0
    for reads, theirs in zip(cases, results):
        ours, fast = single._parse(reads)
        slow, none = single._parse(reads, fast=False)
        assert none == 0
        assert ours == slow, reads  # the fast path reads as llhttp's callbacks read
        fast_taken += fast
        if ours != theirs and not single._excused(b"".join(reads), theirs, ours):
            unexplained.append((reads, theirs, ours))
    assert not unexplained, unexplained[:3]
    assert fast_taken > count  # (most pipelines hold several common heads: the fast path was compared)


@pytest.mark.parametrize("seed", [71, 72])
def test_pipelined_heads_agree_with_node(seed):
    _compare(seed, 800)
