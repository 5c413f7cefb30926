"""The shared HTTP/1.1 message rules (prefork/http/framing.py), as tables: no sockets."""

import pytest

from prefork.http import framing


@pytest.mark.parametrize("status,has_body", [(100, False), (101, False), (199, False), (200, True), (204, False),
                                             (205, True), (299, True), (304, False), (404, True), (500, True)])
def test_status_has_body(status, has_body):
    assert framing.status_has_body(status) is has_body


@pytest.mark.parametrize("value,close", [("close", True), ("Close", True), ("keep-alive, close", True),
                                         ("close,upgrade", True), ("keep-alive", False), ("closed", False),
                                         ("xclose", False), ("", False), (["close"], True)])
def test_asks_close(value, close):
    assert framing.asks_close(value) is close


@pytest.mark.parametrize("value,chunked", [("chunked", True), ("gzip, chunked", True), ("CHUNKED", True),
                                           ("gzip", False), ("", False), (None, False), ("chunkedx", False)])
def test_is_chunked(value, chunked):
    assert framing.is_chunked(value) is chunked


@pytest.mark.parametrize("value,expects", [("100-continue", True), ("100-Continue", True),
                                           ("100-continue, foo", True), ("x100-continuey", False),
                                           ("foo", False), ("", False), (None, False)])
def test_expects_continue(value, expects):
    assert framing.expects_continue(value) is expects


@pytest.mark.parametrize("data,framed", [(b"a", b"1\r\na\r\n"), (b"x" * 26, b"1a\r\n" + b"x" * 26 + b"\r\n")])
def test_chunk(data, framed):
    assert framing.chunk(data) == framed
    assert framing.LAST_CHUNK == b"0\r\n\r\n"


@pytest.mark.parametrize("method,length,wrote,framed", [
    ("GET", None, False, None),            # end() without data
    ("GET", 0, False, None),               # end(b"") on a method without a default body
    ("GET", 5, False, ("length", 5)),      # end(data)
    ("GET", None, True, ("chunked",)),     # write() then end()
    ("POST", None, False, ("chunked",)),   # flush_headers() or write() first
    ("POST", 0, False, ("length", 0)),     # end() on a method with a body
    ("PUT", 3, False, ("length", 3)),
    ("DELETE", None, False, None),
    ("OPTIONS", 0, False, None),
    ("CONNECT", None, False, None),
])
def test_request_framing(method, length, wrote, framed):
    assert framing.request_framing(method, length, wrote) == framed
