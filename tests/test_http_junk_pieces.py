"""Bytes a client (or a server, to our client) may send at will cost the parser no more
work than a body of their size. Each bound is a count (llhttp calls, Python lines run),
not a time.

Rules under test: http/llhttp.py (line ends between messages, which llhttp skips, are one
piece however many blank lines they hold; the rest of a read inside a response body that
runs to the connection's close is one piece) and http/chunks.py (a chunk size's leading
zeros, which llhttp takes in any number, are skipped as one run). Before, every blank
line was an llhttp call of its own and every leading zero a step in Python: a client
streaming either kept a worker busy at a few MB/s, where Node reads them as fast as a body.
"""

import sys

from prefork.http.parser import RequestParser, ResponseParser

READ = 64 << 10


class Recorder:
    def __init__(self):
        self.heads = []
        self.body = 0
        self.ends = 0

    def on_headers(self, *head):
        self.heads.append(head[1] if len(head) > 1 else head[0])

    def on_body(self, body):
        self.body += len(body)

    def on_message_complete(self, trailers):
        self.ends += 1


def llhttp_calls(parser, data):
    """Feeds ``data`` in reads of READ bytes; returns how many pieces went to llhttp (the
    driver's per-piece step; httptools' own method is not seen by a profiler)."""
    calls = [0]

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "_feed_piece":
            calls[0] += 1
    sys.setprofile(profile)
    try:
        for at in range(0, len(data), READ):
            parser.feed(data[at:at + READ])
    finally:
        sys.setprofile(None)
    return calls[0]


def lines_run_in(module_suffix, parser, data, read=READ):
    """Feeds ``data`` in reads of ``read`` bytes; returns the Python lines run in the module."""
    count = [0]

    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
        return local

    def trace(frame, event, arg):
        return local if frame.f_code.co_filename.endswith(module_suffix) else None
    sys.settrace(trace)
    try:
        for at in range(0, len(data), read):
            parser.feed(data[at:at + read])
    finally:
        sys.settrace(None)
    return count[0]


def test_blank_lines_between_requests_are_one_llhttp_call_per_read():
    junk = b"\r\n" * (4 * READ)  # 256 KiB of blank lines, four reads
    for data in (junk + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + junk + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"):
        handler = Recorder()
        calls = llhttp_calls(RequestParser(handler), data)
        assert handler.ends == len(handler.heads) == data.count(b"GET")
        reads = -(-len(data) // READ)
        assert calls <= 2 * reads + 2, f"{calls} llhttp calls for {reads} reads"



def test_a_chunk_size_of_many_leading_zeros_is_skipped_as_one_run():
    handler = Recorder()
    zeros = b"0" * (2 * READ)
    data = (b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + zeros
            + b"3\r\nabc\r\n0\r\n\r\n")
    lines = lines_run_in("/http/chunks.py", RequestParser(handler), data)
    assert handler.ends == 1 and handler.body == 3
    assert lines < 2_000, f"{lines} lines of chunks.py for {len(zeros)} leading zeros"


def test_blank_lines_in_a_response_body_to_the_close_are_one_llhttp_call_per_read():
    handler = Recorder()
    body = b"\r\n" * (4 * READ)
    data = b"HTTP/1.1 200 OK\r\n\r\n" + body
    parser = ResponseParser(handler)
    calls = llhttp_calls(parser, data)
    parser.finish()  # the caller ends a body delimited by the close itself
    assert handler.body == len(body) and len(handler.heads) == 1
    reads = -(-len(data) // READ)
    assert calls <= 2 * reads + 2, f"{calls} llhttp calls for {reads} reads"
