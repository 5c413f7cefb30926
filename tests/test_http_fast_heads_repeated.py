"""A kept-alive common head the same bytes as the last one the checking llhttp read is
not read by it again (``RequestParser.feed``): a repeated head, and every head after it
that differs from it (one llhttp refuses, one that closes, one after the close), make the
same handler calls and errors as with the fast path off (no sockets)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_http_fast_heads import _same  # noqa: E402

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
OTHER = b"GET /b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
REFUSED = [
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",  # (a space in a name: llhttp's error alone)
    b"GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n",  # (a control byte in a value)
    b"GET / HTTP/1.1\r\nHost: x\r\nX\x7f: y\r\n\r\n",
]
CLOSING = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("refused", REFUSED)
def test_a_head_refused_after_the_same_head_repeated_is_still_refused(refused):
    _same([HEAD, HEAD, HEAD, refused, HEAD])
    _same([HEAD + HEAD + HEAD + refused + HEAD])
    _same([HEAD, OTHER, HEAD, HEAD + refused])


def test_a_repeated_head_reads_as_each_of_its_copies():
    parser = _same([HEAD] * 5 + [HEAD * 4, OTHER, OTHER + HEAD, HEAD])
    assert parser.fast_heads  # (the path under test was taken throughout)


def test_the_same_head_after_a_closing_one_is_refused_as_llhttp_refuses_it():
    _same([HEAD, HEAD, CLOSING, HEAD])
    _same([HEAD, CLOSING, CLOSING])
    _same([HEAD + CLOSING + HEAD])
    _same([CLOSING, HEAD])


def test_a_refused_head_then_the_one_checked_before_it_are_read_as_llhttp_reads_them():
    for refused in REFUSED:
        _same([HEAD, refused])
        _same([HEAD, refused, HEAD])


# a line end inside the target: llhttp ends the request line there (an HTTP/0.9 request,
# not kept alive: what follows is HPE_CLOSED_CONNECTION), whatever follows it on the line
LINE_END_IN_TARGET = [
    b"GET /\nX:1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\nX:y HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    b"GET /\nHost:a HTTP/1.1\r\nHost: b\r\n\r\n",
]


@pytest.mark.parametrize("head", LINE_END_IN_TARGET)
def test_a_line_end_in_the_target_is_read_as_llhttp_reads_it_however_often_repeated(head):
    _same([head])
    _same([head, head, head])
    _same([HEAD, head, head])
    _same([head * 3])
    _same([head], {"unique_host": True})
