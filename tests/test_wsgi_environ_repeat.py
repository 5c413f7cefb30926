"""A kept-alive connection's requests each get their own environ, also when a request
repeats the one before it (same fields, target, method and version: its environ is
copied whole): what an app changed in one environ is not in the next, and the keys a
request alone decides (the path, the method, the version, ``prefork.request``,
``wsgi.input``) are the request's own."""

import json
import socket
import time

from prefork import create_server
from prefork.runtime import new_event_loop
from prefork.wsgi import WSGIAdapter

KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "RAW_URI", "SERVER_PROTOCOL", "CONTENT_LENGTH",
        "HTTP_X_A", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "marked")


def app(environ, start_response):
    seen = {key: environ.get(key) for key in KEYS}
    seen["body"] = environ["wsgi.input"].read().decode()
    seen["request_is_own"] = environ["prefork.request"].url == environ["RAW_URI"]
    environ["marked"] = "yes"  # an app's change: never in the next request's environ
    environ["PATH_INFO"] = "/changed"
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def exchange(requests, deadline=10.0):
    """The parsed bodies of the responses to ``requests`` sent one at a time on one connection."""
    loop = new_event_loop("asyncio")
    server = create_server(loop=loop)
    WSGIAdapter(app, root_path="/mount").setup(server)
    server.listen(0)
    client = socket.create_connection(("127.0.0.1", server.address()["port"]))
    client.setblocking(False)
    answers = []
    state = {"buffer": b"", "left": list(requests)}

    def on_readable():
        state["buffer"] += client.recv(65536)
        head, sep, rest = state["buffer"].partition(b"\r\n\r\n")
        if not sep:
            return
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        if len(rest) < length:
            return
        answers.append(json.loads(rest[:length]))
        state["buffer"] = rest[length:]
        if state["left"]:
            client.send(state["left"].pop(0))
        else:
            loop.stop()

    loop.add_reader(client.fileno(), on_readable)
    timer = loop.call_later(deadline, loop.stop)
    try:
        client.send(state["left"].pop(0))
        started = time.monotonic()
        loop.run_forever()
        assert time.monotonic() - started < deadline, "no answer in time"
    finally:
        timer.cancel()
        loop.remove_reader(client.fileno())
        client.close()
        server.close_all_connections()
        server.close()
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.close()
    return answers


def test_repeated_requests_get_their_own_environs():
    get = b"GET /mount/a?x=1 HTTP/1.1\r\nHost: h.test:81\r\nX-A: 1\r\n\r\n"
    get_b = b"GET /mount/b?y=2 HTTP/1.1\r\nHost: h.test:81\r\nX-A: 1\r\n\r\n"
    requests = [get, get, get, get_b, get, get_b, get_b,
                b"POST /mount/b?y=2 HTTP/1.1\r\nHost: h.test:81\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nabc",
                b"POST /mount/b?y=2 HTTP/1.1\r\nHost: h.test:81\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nxyz",
                b"GET /mount/b?y=2 HTTP/1.1\r\nHost: h.test:81\r\nX-A: 2\r\n\r\n",
                b"GET /mount/b?y=2 HTTP/1.0\r\nHost: h.test:81\r\nX-A: 2\r\nConnection: keep-alive\r\n\r\n",
                b"GET /other HTTP/1.1\r\nHost: h.test:81\r\nX-A: 2\r\n\r\n",
                get]
    answers = exchange(requests)
    assert len(answers) == len(requests)
    first = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a", "QUERY_STRING": "x=1", "RAW_URI": "/mount/a?x=1",
             "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": None, "HTTP_X_A": "1", "SERVER_NAME": "h.test",
             "SERVER_PORT": "81", "SCRIPT_NAME": "/mount", "marked": None, "body": "", "request_is_own": True}
    assert answers[0] == answers[1] == answers[2] == answers[4] == answers[-1] == first
    at_b = dict(first, PATH_INFO="/b", QUERY_STRING="y=2", RAW_URI="/mount/b?y=2")
    assert answers[3] == answers[5] == answers[6] == at_b
    post = dict(at_b, REQUEST_METHOD="POST", CONTENT_LENGTH="3")
    assert answers[7] == dict(post, body="abc")
    assert answers[8] == dict(post, body="xyz")
    assert answers[9] == dict(at_b, HTTP_X_A="2")
    assert answers[10] == dict(answers[9], SERVER_PROTOCOL="HTTP/1.0")
    assert answers[11] == dict(answers[9], PATH_INFO="/other", QUERY_STRING="", RAW_URI="/other", SCRIPT_NAME="")
