"""The server's ``reject_non_standard_body_writes`` (Node's ``rejectNonStandardBodyWrites``)
reaches the events API's own ``write``/``end`` only. A WSGI or ASGI app's body for a
HEAD, 204 or 304 answer is dropped silently, with the option on as off, as gunicorn and
uvicorn drop it: it used to raise ERR_HTTP_BODY_NOT_ALLOWED inside the adapter, the
client got nothing and the connection closed, losing the requests pipelined behind it.

And a refused ``res.end(data, callback)`` keeps no callback, as Node's (which throws
before it adds the ``finish`` listener): it used to be called at the later ``finish``.
"""

import re

import pytest

from hostile import exchange
from prefork.asgi import ASGIAdapter
from prefork.wsgi import WSGIAdapter

REQUESTS = [b"HEAD /200 HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /304 HTTP/1.1\r\nHost: x\r\n\r\n", b"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":  # a generator: the streaming path
        start_response("200 OK", [])
        return (piece for piece in [b"hel", b"lo"])
    status = path[1:]
    start_response(f"{status} X", [] if status == "204" else [("Content-Length", "5")])
    return [b"hello"]


async def asgi_app(scope, receive, send):
    path = scope["path"]
    if path == "/stream":  # a body in several messages: the streaming path
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await send({"type": "http.response.body", "body": b"lo"})
        return
    status = int(path[1:])
    await send({"type": "http.response.start", "status": status,
                "headers": [] if status == 204 else [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


def _statuses_and_bodies(data):
    text = re.sub(rb"(?i)date: [^\r]*\r\n", b"", data)
    return re.findall(rb"HTTP/1\.1 (\d+)", text), text


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_an_adapters_body_for_head_204_and_304_is_dropped_with_the_option_on(serve, kind):
    def setup(server, st):
        if kind == "wsgi":
            WSGIAdapter(wsgi_app).setup(server)
        else:
            ASGIAdapter(asgi_app, lifespan="off").setup(server)

    requests = REQUESTS
    answers = {}
    for option in (False, True):
        st = serve(setup, reject_non_standard_body_writes=option)
        answers[option] = _statuses_and_bodies(exchange(st.port, b"".join(requests)))
    statuses, text = answers[True]
    assert statuses == [r.split(b" ")[1][1:].replace(b"stream", b"200") for r in requests]
    assert text.count(b"hello") == 1  # the last GET's body only
    assert answers[True] == answers[False]


def test_the_events_api_still_refuses_a_body_after_flush_headers(serve):
    """``flush_headers()`` is the events API's: the check stays on for the write after it."""
    def setup(server, st):
        def on_request(req, res):
            res.flush_headers()
            try:
                res.write(b"abc")
                st.record("write", "ok")
            except Exception as exc:
                st.record("write", getattr(exc, "code", repr(exc)))
            res.end()
        server.on("request", on_request)

    st = serve(setup, reject_non_standard_body_writes=True)
    exchange(st.port, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert st.wait_for(lambda e: e[0] == "write")[1] == "ERR_HTTP_BODY_NOT_ALLOWED"


def test_a_refused_end_with_data_does_not_call_its_callback(serve):
    """Node v20 (tests' program: end('abc', cb1) throws, write('abc', cb) throws, then
    end(cb2)) prints only "cb2 called"."""
    def setup(server, st):
        def on_request(req, res):
            for name, call in (("end", lambda: res.end("abc", lambda *a: st.record("cb1"))),
                               ("write", lambda: res.write("abc", lambda *a: st.record("wcb")))):
                try:
                    call()
                except Exception as exc:
                    st.record("threw", name, exc.code)
            res.end(lambda *a: st.record("cb2"))
            res.on("close", lambda: st.record("close"))
        server.on("request", on_request)

    st = serve(setup, reject_non_standard_body_writes=True)
    exchange(st.port, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st.wait_for(lambda e: e == ("close",))
    assert st.events == [("threw", "end", "ERR_HTTP_BODY_NOT_ALLOWED"),
                         ("threw", "write", "ERR_HTTP_BODY_NOT_ALLOWED"), ("cb2",), ("close",)]
