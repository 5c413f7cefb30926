"""Python-level calls per keep-alive WSGI request: a budget the hot path must stay under.

The server, the WSGI adapter and a client run on one loop in this thread; a profile hook
(``sys.setprofile``) counts every Python function call made while ``REQUESTS`` hello
requests are answered one after another on one keep-alive connection. The count is
deterministic: no timing decides which code runs (the client's own calls are left out).
"""

import os
import socket
import sys

from prefork import create_server
from prefork.runtime import new_event_loop
from prefork.wsgi import WSGIAdapter

REQUESTS = 200
REQUEST = b"GET /hello?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: budget/1\r\nAccept: */*\r\n\r\n"
HERE = os.path.abspath(__file__)
# Measured: 23 calls per request (24 before the server called its one request listener
# without an emit between; 38 before the adapter's later work, 39 before a read's size came from recv_into; 46 before a common request head was read without
# llhttp's callbacks; 49 before a repeated request's environ was copied
# whole and the loop's call was made where it starts; 50 before a whole body's status
# and header list came from one lookup; 56 before the head went out as a kept header
# block with end_with).
# A little headroom for the Date line's once-a-second refresh; growing past it means
# the path grew.
BUDGET = 24


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def measure(app, requests):
    """Calls per request over ``requests`` keep-alive requests, after a warm-up."""
    loop = new_event_loop("asyncio")
    server = create_server(loop=loop)
    WSGIAdapter(app).setup(server)
    server.listen(0)
    client = socket.create_connection(("127.0.0.1", server.address()["port"]))
    client.setblocking(False)
    state = {"left": 0, "buffer": b""}
    calls = [0]

    def on_readable():
        state["buffer"] += client.recv(65536)
        if state["buffer"].endswith(b"Hello, World!"):
            state["buffer"] = b""
            state["left"] -= 1
            if state["left"]:
                client.send(REQUEST)
            else:
                loop.stop()

    def run(count):
        state["left"] = count
        client.send(REQUEST)
        loop.run_forever()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename != HERE:
            calls[0] += 1

    loop.add_reader(client.fileno(), on_readable)
    try:
        run(20)  # warm-up: caches filled, first-time paths taken
        sys.setprofile(profile)
        try:
            run(requests)
        finally:
            sys.setprofile(None)
    finally:
        loop.remove_reader(client.fileno())
        client.close()
        server.close_all_connections()
        server.close()
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.close()
    return calls[0] / requests


def test_wsgi_keep_alive_request_stays_within_its_call_budget():
    per_request = measure(hello, REQUESTS)
    print(f"{per_request:.1f} Python calls per keep-alive WSGI request")
    assert per_request <= BUDGET, per_request
