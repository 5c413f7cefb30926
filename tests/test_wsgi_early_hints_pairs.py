"""``wsgi.early_hints`` writes each pair on a line of its own, as gunicorn does: a
repeated name is two lines (``X-A: 1``, ``X-A: 2``), not one joined line (``x-a: 1,2``,
Node's ``writeEarlyHints`` way for a list value, which the events API keeps). Links go
on the 103's ``Link`` line as before.

gunicorn 23 for the app below answers (its 103):
    HTTP/1.1 103 Early Hints\\r\\nLink: </a.css>; rel=preload\\r\\nX-A: 1\\r\\nX-A: 2\\r\\n\\r\\n
"""

from hostile import exchange
from prefork.wsgi import WSGIAdapter


def app(environ, start_response):
    environ["wsgi.early_hints"]([("Link", "</a.css>; rel=preload"), ("X-A", "1"), ("X-A", "2")])
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def test_a_repeated_early_hint_is_one_line_per_pair(serve):
    st = serve(lambda server, st_: WSGIAdapter(app).setup(server))
    data = exchange(st.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    hints, _, rest = data.partition(b"\r\n\r\n")
    assert hints == b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-A: 1\r\nX-A: 2", data
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"\r\n\r\nok")
