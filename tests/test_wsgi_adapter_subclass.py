"""A WSGIAdapter subclass that overrides ``on_request`` (to count or time requests, then
call the base class) has its override called for every request, with threads = 1, as
the adapter's listener was a bound method before it ran in the adapter's context."""

from hostile import exchange
from prefork.wsgi import WSGIAdapter


def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


class Counting(WSGIAdapter):
    seen = 0

    def on_request(self, req, res):
        Counting.seen += 1
        super().on_request(req, res)


def test_a_subclass_on_request_override_is_called_for_each_request(serve):
    Counting.seen = 0
    st = serve(lambda server, st: Counting(app).setup(server))
    data = exchange(st.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                             b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
                             b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.count(b"HTTP/1.1 200 OK") == 3, data
    assert Counting.seen == 3
