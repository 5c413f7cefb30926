"""An app that answers a request the server has already answered itself (a canned 413
for a chunk extension over the limit, its socket lingering): the app's bytes never left
(the FIN was out), yet its response was logged and counted as a second one, a 200 beside
the 413 the client got. The reply's line is the request's only one."""

import socket

import pytest

from daemon import wait_until
from harness import read_until_close

OVERFLOW = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;"
            + b"e" * 20000 + b"\r\nabc\r\n0\r\n\r\n")


@pytest.mark.parametrize("app", ["apps.asgi_apps:hello"])
def test_a_response_after_the_servers_reply_is_not_logged_or_counted(daemons, tmp_path, app):
    log = tmp_path / "access.log"
    d = daemons("--access-log", str(log), "--access-log-flush", "0", app=app, workers=1)
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(OVERFLOW)
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    # a later request's line comes after anything the first connection's close logs
    assert d.request("/after").startswith(b"HTTP/1.1 200 OK")
    wait_until(lambda: log.exists() and '"GET /after HTTP/1.1" 200' in log.read_text(), 10,
               what="the later request's line")
    posts = [line for line in log.read_text().splitlines() if '"POST / HTTP/1.1"' in line]
    assert len(posts) == 1 and '" 413 ' in posts[0], posts

    def codes():
        return {dict(labels).get("code"): v for (name, labels), v in d.scrape().items()
                if name == "prefork_requests_total" and v}
    # (the server's own reply is counted with the client errors; the requests are the app's)
    wait_until(lambda: codes().get("200"), 10, what=lambda: f"the later request counted: {codes()}")
    assert codes() == {"200": 1}, codes()
