"""``req.add_trailers()``: Node's ``addTrailers`` on a client request. The fields go
after the last chunk of a chunked body (a list value gives a line each; a later call
replaces an earlier one); a body framed by Content-Length sends none. The bytes on the
wire are compared with Node's client's."""

import asyncio
import json

import pytest

import prefork
from harness import NODE, node_events
from test_client import ScriptedServer

OK = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

CASES = {
    "chunked": ({}, [["X-First", "no"]], [["X-T", "1"], ["x-u", ["a", "b"]]], b"\r\n0\r\n", b"\r\n\r\n"),
    "Content-Length": ({"Content-Length": "2"}, [], [["X-T", "1"]], None, b"ab"),
}


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.close()


def prefork_sends(port, headers, first, trailers):
    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": port, "method": "POST", "agent": False,
                               "headers": headers})
        req.on("error", lambda e: None)
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        if "Content-Length" not in headers:
            req.write("a")
        if first:
            req.add_trailers(dict(first))
        req.add_trailers(trailers)
        req.end("b" if "Content-Length" not in headers else "ab")
        await asyncio.wait_for(closed, 5)
    asyncio.run(main())


NODE_SENDS = r"""
const [headers, first, trailers] = %s;
const req = http.request({host: '127.0.0.1', port: %d, method: 'POST', agent: false, headers});
req.on('error', () => {});
req.on('close', done);
if (!headers['Content-Length']) req.write('a');
if (first.length) req.addTrailers(Object.fromEntries(first));
req.addTrailers(trailers);
req.end(headers['Content-Length'] ? 'ab' : 'b');
"""


@pytest.mark.parametrize("name", list(CASES))
def test_trailers_go_after_the_last_chunk_as_in_node(server, name):
    headers, first, trailers, in_body, marker = CASES[name]
    script = [("head",), ("until", marker), ("send", OK), ("close",)]
    server.serve(script)
    prefork_sends(server.port, headers, first, trailers)
    server.wait()
    ours = server.received[0]
    if in_body is not None:
        assert ours.endswith(b"0\r\nX-T: 1\r\nx-u: a\r\nx-u: b\r\n\r\n") and b"X-First" not in ours
    else:
        assert ours.endswith(b"\r\n\r\nab") and b"X-T" not in ours
    if NODE is not None:
        server.serve(script)
        node_events(NODE_SENDS % (json.dumps([headers, first, trailers]), server.port))
        server.wait()
        assert server.received[0] == ours


NODE_DECLARED = r"""
const [method, length] = %s;
const headers = {Trailer: 'X-T'};
if (length) headers['Content-Length'] = '2';
const req = http.request({host: '127.0.0.1', port: %d, method, agent: false, headers});
req.on('error', () => {});
req.addTrailers({'X-T': '1'});
try { req.end('ab'); log('sent'); req.on('close', done); }
catch (e) { log(e.code); req.destroy(); done(); }
"""


@pytest.mark.parametrize("method, length", [("POST", False), ("POST", True), ("GET", False)])
def test_a_declared_trailer_makes_the_body_chunked_or_is_refused_as_in_node(server, method, length):
    """A ``Trailer`` field: ``end(data)`` sends the body chunked (not by its length) with
    the trailers after it; with the application's Content-Length, or on a method sent
    without framing (GET), ``end`` raises ERR_HTTP_TRAILER_INVALID and nothing is sent."""
    refused = length or method == "GET"
    script = [("head",), ("until", b"\r\n\r\n" if refused else b"0\r\nX-T: 1\r\n\r\n"), ("send", OK), ("close",)]

    async def main():
        headers = {"Trailer": "X-T", **({"Content-Length": "2"} if length else {})}
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "method": method, "agent": False,
                               "headers": headers})
        req.on("error", lambda e: None)
        req.add_trailers({"X-T": "1"})
        try:
            req.end("ab")
        except ValueError as err:
            req.destroy()
            return err.code
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        await asyncio.wait_for(closed, 5)
        return "sent"
    if not refused:
        server.serve(script)
    ours = asyncio.run(main())
    assert ours == ("ERR_HTTP_TRAILER_INVALID" if refused else "sent")
    if not refused:
        server.wait()
        assert server.received[0].endswith(b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n\r\n")
    if NODE is not None:
        if not refused:
            server.serve(script)
        theirs = node_events(NODE_DECLARED % (json.dumps([method, length]), server.port))[0]
        assert theirs == [ours]
        if not refused:
            server.wait()
            assert server.received[-1] == server.received[0]


def test_a_request_whose_end_was_refused_for_its_trailer_can_be_mended_and_sent(server):
    """``end()`` raising ERR_HTTP_TRAILER_INVALID leaves the request not ended: with the
    Trailer field removed, ``end(data)`` sends it, as Node's retry does."""
    server.serve([("head",), ("until", b"ab"), ("send", OK), ("close",)])

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "method": "POST", "agent": False,
                               "headers": {"Trailer": "X-T", "Content-Length": "2"}})
        errors = []
        req.on("error", errors.append)
        with pytest.raises(ValueError) as refused:
            req.end("ab")
        assert refused.value.code == "ERR_HTTP_TRAILER_INVALID"
        req.remove_header("Trailer")
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        req.end("ab")
        await asyncio.wait_for(closed, 5)
        return errors
    errors = asyncio.run(main())
    server.wait()
    sent = server.received[0]
    assert errors == [], (errors, sent)
    assert sent.startswith(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n") and sent.endswith(b"\r\n\r\nab")
    assert b"Trailer" not in sent


def test_a_get_with_a_trailer_field_is_refused_even_with_its_content_length_removed():
    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": 9, "agent": False, "headers": {"Trailer": "X-T"}})
        req.on("error", lambda e: None)
        req.remove_header("content-length")
        try:
            req.write("a")
        except ValueError as err:
            return err.code
        finally:
            req.destroy()
    assert asyncio.run(main()) == "ERR_HTTP_TRAILER_INVALID"
