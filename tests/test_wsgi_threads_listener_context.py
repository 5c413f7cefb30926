"""With ``threads`` > 1 the server keeps its per-request contexts: a ``request`` listener
the application's own setup adds beside the WSGI adapter never runs in a context a pool
thread's call made (requests held behind an HTTP/1.0 keep-alive answer are sent on from a
pool thread's callback), so it never sees the ContextVars the WSGI app set."""

import contextvars

from hostile import exchange
from prefork.wsgi import WSGIAdapter

set_by_app = contextvars.ContextVar("set_by_app", default=None)


def app(environ, start_response):
    set_by_app.set(environ["PATH_INFO"])
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def test_a_listener_beside_a_threaded_wsgi_app_never_sees_the_apps_context_vars(serve):
    seen = []

    def setup(server, st):
        WSGIAdapter(app, threads=4).setup(server)
        server.on("request", lambda req, res: seen.append((req.url, set_by_app.get())))

    st = serve(setup)
    data = exchange(st.port, b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                             b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                             b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
                             b"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.count(b" 200 OK") == 4, data
    assert seen == [(path, None) for path in ("/a", "/b", "/c", "/d")], seen
