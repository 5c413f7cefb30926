"""An ASGI app that reads the body of an ``Expect: 100-continue`` request keeps the
connection, also when the body came with the head (a client that stopped waiting for
the 100, or never waited).

Rule under test (docs/asgi.md): the 100 Continue goes out the first time the app asks
for the body; only an app that answers without reading gets its connection closed, as
uvicorn (which writes the 100 at the first receive) keeps it. Before, a body already
in when the app first asked was handed over without the 100, and the response then
said Connection: close and closed the connection, so the requests pipelined behind it
were never answered.
"""

import pytest

from daemon import Daemon
from hostile import exchange, responses


@pytest.fixture(scope="module")
def daemon():
    d = Daemon(app="apps.asgi_apps:app", workers=1)
    try:
        d.wait_ready(timeout=30)
        yield d
    finally:
        d.cleanup()


def test_a_read_body_that_came_with_the_head_keeps_the_connection(daemon):
    data = exchange(daemon.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
                    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nde")
    answers = [(status, body) for status, _, body in responses(data) if status != 100]
    assert answers == [(200, b"abc"), (200, b"de")], data
