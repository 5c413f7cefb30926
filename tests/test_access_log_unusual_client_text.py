"""An application of the events API may replace a request's header value with one
that is no string (a list, say): the access log writes it as its text, escaped, with
any format. A format with a format spec or a conversion (its line made as the response
ends) raised TypeError from the response observer once the request's other client text
(the URL) had been seen before: that line was lost, and the server's work after the
observer for that response (its ``close`` event, the request's end) was skipped
("error in a flush waiter of a socket" on the error log)."""

import socket

from daemon import wait_until
from prefork import logs


def test_a_header_value_that_is_no_string_is_written_with_a_format_spec(serve, tmp_path):
    path = tmp_path / "access.log"
    access = logs.AccessLog(str(path), '{s:>4} "{a}" {U!s}', 1.0)
    ended = []

    def setup(server, st):
        server.response_observer = access.observer(st.loop)

        def on_request(req, res):
            req.headers["user-agent"] = ["x", 'y"']
            try:
                res.end("hello")
                ended.append("ended")
            except Exception as exc:  # (what the observer raised reached the application)
                ended.append(repr(exc))
        server.on("request", on_request)

    st = serve(setup)
    for _ in range(2):  # (the second time, the URL is a text seen before)
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while sock.recv(65536):
                pass
    wait_until(lambda: len(ended) == 2, 5, what="the responses ended")
    st.loop.call_soon_threadsafe(access.close)
    wait_until(lambda: access.fd == -1, 5, what="the log closed on its loop")
    assert ended == ["ended", "ended"]
    assert path.read_text() == ' 200 "[\'x\', \'y\\x22\']" /a\n' * 2
