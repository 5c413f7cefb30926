"""A message that spanned reads leaves nothing behind once it is complete.

Rule under test: the parser keeps the reads of a message in progress (to report an
error in it at Node's offset), and lets them go when the message ends, not when the
next one begins: an idle keep-alive connection (a balancer's, kept for a minute) whose
last request had a large body holds none of it. It held up to 256 KiB of that body until
its next request or its close.
"""

import gc
import types

from prefork.http.parser import RequestParser


class Sink:
    def __init__(self):
        self.done = 0

    def on_headers(self, *head):
        pass

    def on_body(self, body):
        pass

    def on_message_complete(self, trailers):
        self.done += 1


def held_elsewhere(chunks, mine):
    """Containers other than ``mine`` that hold one of ``chunks`` (one collection and one
    walk of the heap for all of them: in a process that ran many tests, each walk is long)."""
    gc.collect()
    return [type(r).__name__ for r in gc.get_referrers(*chunks)
            if r is not mine and r is not chunks and not isinstance(r, types.FrameType)]


def test_the_reads_of_a_finished_body_are_not_kept():
    for framing in (b"Content-Length: 200000\r\n", b"Transfer-Encoding: chunked\r\n"):
        sink = Sink()
        parser = RequestParser(sink)
        reads = [b"POST / HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n"]
        if framing.startswith(b"Content"):
            reads += [b"a" * 50000 for _ in range(4)]
        else:
            reads += [b"c350\r\n" + b"a" * 50000 + b"\r\n" for _ in range(4)] + [b"0\r\n\r\n"]
        for read in reads:
            parser.feed(read)
        assert sink.done == 1
        assert held_elsewhere(reads, reads) == []


def test_an_unfinished_message_keeps_its_reads_for_its_errors():
    parser = RequestParser(Sink())
    reads = [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n", b"abc"]
    for read in reads:
        parser.feed(read)
    assert held_elsewhere(reads[1:], reads) != []

