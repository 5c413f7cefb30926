"""A request listener that misbehaves: the client still gets well-framed answers.

Rule under test: a listener fault found before any byte of its response left (it
raised, passed a body that is not bytes, set a status or status message that cannot go
on the wire) is answered with a complete 500 whose framing is its own, whatever the
listener had fixed before (a chunked head, a bodiless status, Connection: close), and
the connection goes on to the next pipelined request unless the replaced head had ended
it. A fault after bytes left closes the connection after what was sent. Nothing the
listener set can put a CR or LF into the head. Every socket is closed afterwards.
"""

import asyncio
import logging

import pytest

from hostile import LAST, exchange, open_fds, responses, wait_fds_at_most


def _fault(req, res):
    shape = req.url.split("?")[0][1:]
    if shape == "last":
        res.end(b"last")
    elif shape == "raise-after-write-head":
        res.write_head(200)
        raise RuntimeError("after write_head")
    elif shape == "raise-after-write-head-204":
        res.write_head(204)
        raise RuntimeError("after write_head(204)")
    elif shape == "raise-after-write-head-304":
        res.write_head(304, {"ETag": '"x"'})
        raise RuntimeError("after write_head(304)")
    elif shape == "raise-after-removing-length":
        res.remove_header("Content-Length")
        res.remove_header("Transfer-Encoding")
        raise RuntimeError("after remove_header")
    elif shape == "write-head-twice":
        res.write_head(200)
        res.write_head(201)
    elif shape == "status-code-text":
        res.status_code = "abc"
        res.end(b"x")
    elif shape == "status-code-negative":
        res.status_code = -1
        res.end(b"x")
    elif shape == "status-code-too-big":
        res.status_code = 1000
        res.write(b"x")
        res.end()
    elif shape == "status-message-crlf":
        res.status_message = "OK\r\nX-Injected: 1"
        res.end(b"x")
    elif shape == "status-message-lf-with-header":
        res.set_header("X-A", "1")
        res.status_message = "OK\nX-Injected: 1"
        res.end(b"x")
    elif shape == "write-int":
        res.write(123)
    elif shape == "end-int":
        res.end(123)
    elif shape == "end-list":
        res.end([b"a"])
    elif shape == "write-dict-after-header":
        res.set_header("X-A", "1")
        res.write({"a": 1})
    elif shape == "async-raise-after-write-head":
        return _async_raise(res)
    else:
        raise AssertionError(shape)


async def _async_raise(res):
    res.write_head(200)
    await asyncio.sleep(0)
    raise RuntimeError("in a task, after write_head")


SHAPES = ["raise-after-write-head", "raise-after-write-head-204", "raise-after-write-head-304",
          "raise-after-removing-length", "write-head-twice", "status-code-text", "status-code-negative",
          "status-code-too-big", "status-message-crlf", "status-message-lf-with-header", "write-int",
          "end-int", "end-list", "write-dict-after-header", "async-raise-after-write-head"]


@pytest.fixture
def faulty(serve, caplog):
    caplog.set_level(logging.CRITICAL, "prefork")
    st = serve(lambda server, _st: server.on("request", _fault), keep_alive_timeout=5)
    st.call(lambda: None)
    return st


@pytest.mark.parametrize("shape", SHAPES)
def test_a_fault_before_the_body_is_a_well_framed_500_and_the_next_request_is_served(faulty, shape):
    baseline = open_fds()
    request = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % shape.encode()
    data = exchange(faulty.port, request + LAST)
    got = responses(data)
    assert [status for status, _, _ in got] == [500, 200], data
    headers, body = got[0][1], got[0][2]
    assert body == b"" and headers.get("content-length") == "0", data
    assert "x-injected" not in headers and b"X-Injected" not in data
    assert got[1][2] == b"last"
    wait_fds_at_most(baseline)


def test_a_fault_after_a_closing_head_answers_500_with_connection_close(faulty):
    def close_then_raise(req, res):
        if req.url == "/close-then-raise":
            res.write_head(200, {"Connection": "close"})
            raise RuntimeError("after a closing head")
        _fault(req, res)
    faulty.call(lambda: faulty.server.remove_all_listeners("request").on("request", close_then_raise))
    baseline = open_fds()
    data = exchange(faulty.port, b"GET /close-then-raise HTTP/1.1\r\nHost: x\r\n\r\n" + LAST)
    got = responses(data)
    # the replaced head had ended the connection: the 500 says so, and nothing follows it
    assert [status for status, _, _ in got] == [500], data
    assert got[0][1]["connection"] == "close"
    wait_fds_at_most(baseline)


def test_a_fault_after_body_bytes_left_closes_after_them(faulty):
    def write_then_raise(req, res):
        if req.url == "/write-then-raise":
            res.write(b"partial")
            raise RuntimeError("after a body write")
        _fault(req, res)
    faulty.call(lambda: faulty.server.remove_all_listeners("request").on("request", write_then_raise))
    baseline = open_fds()
    data = exchange(faulty.port, b"GET /write-then-raise HTTP/1.1\r\nHost: x\r\n\r\n" + LAST)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"7\r\npartial\r\n"), data
    assert responses(data) == []  # cut short: the client sees an incomplete response, not a next one
    wait_fds_at_most(baseline)


@pytest.mark.parametrize("status", ["200", 404.0])
def test_a_status_code_that_reads_as_a_number_is_sent_as_that_number(serve, status):
    def handler(req, res):
        res.status_code = status
        res.set_header("X-A", "1")
        res.end(b"x")
    st = serve(lambda server, _st: server.on("request", handler))
    data = exchange(st.port, LAST)
    assert responses(data)[0][0] == int(status)
    assert data.startswith(b"HTTP/1.1 %d " % int(status))
