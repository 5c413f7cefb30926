"""The access log's size field ``{b}``: the body bytes sent, as nginx's
``$body_bytes_sent`` and gunicorn's ``%(b)s`` count them. A response without a body
(HEAD, 204, 304) logs none, whatever Content-Length it declares; a body sent by
sendfile logs its length."""

import http.client
import textwrap

from daemon import Daemon, wait_until

APP = """
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/304":
            start_response("304 Not Modified", [("ETag", '"v1"'), ("Content-Length", "1234")])
            return [b""]
        if path == "/file":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3000")])
            return environ["wsgi.file_wrapper"](open(__file__.rsplit("/", 1)[0] + "/data.txt", "rb"))
        body = b"hello world"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
"""


def test_a_response_without_a_body_logs_no_body_bytes(tmp_path):
    (tmp_path / "sizes.py").write_text(textwrap.dedent(APP))
    (tmp_path / "data.txt").write_bytes(b"x" * 3000)
    access = tmp_path / "access.log"
    d = Daemon("--app-dir", str(tmp_path), "--access-log", str(access), "--access-log-flush", "0",
               "--access-log-format", "{m} {U} {s} {b}", app="sizes:app", workers=1)
    try:
        d.wait_ready()
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        for method, path in [("HEAD", "/"), ("GET", "/304"), ("GET", "/"), ("GET", "/file"), ("HEAD", "/file")]:
            conn.request(method, path)
            response = conn.getresponse()
            response.read()
        conn.close()
        expected = ["HEAD / 200 -", "GET /304 304 -", "GET / 200 11", "GET /file 200 3000", "HEAD /file 200 -"]
        wait_until(lambda: access.exists() and len(access.read_text().splitlines()) >= len(expected), 10,
                   what="the lines of the requests")
        assert access.read_text().splitlines() == expected
    finally:
        d.cleanup()
