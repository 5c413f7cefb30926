"""The ``write`` callable of a WSGI call that is over raises when used later (from a
thread the app left behind, or kept and called by a later request): the app learns
its bytes go nowhere. Whatever the size of the list body that ended the call: one
larger than the size a whole body is handed over at once (its bytes held for a slow
reader) too.

Real loopback sockets; the server's loop runs in a thread of this process."""

import httpx

from prefork.wsgi import WSGIAdapter


def late_write(serve, size):
    kept = {}

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/first":
            kept["write"] = start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"x" * size]
        try:
            kept["write"](b"late")
        except Exception as err:  # noqa: BLE001 (what the app would catch)
            said = type(err).__name__
        else:
            said = "accepted"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [said.encode()]

    st = serve(lambda server, st: WSGIAdapter(app).setup(server))
    with httpx.Client(base_url=f"http://127.0.0.1:{st.port}", timeout=10) as client:
        first = client.get("/first")
        assert first.status_code == 200 and len(first.content) == size
        return client.get("/second").text


def test_a_small_list_bodys_write_raises_once_the_call_is_over(serve):
    assert late_write(serve, 10) != "accepted"


def test_a_large_list_bodys_write_raises_once_the_call_is_over(serve):
    said = late_write(serve, 300 * 1024)
    assert said == late_write(serve, 10)
    assert said != "accepted"
