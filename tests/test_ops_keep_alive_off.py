"""``keep_alive_timeout = 0`` (gunicorn's ``--keep-alive 0``, uvicorn's
``--timeout-keep-alive 0``) turns keep-alive off in the daemon, as those servers and
nginx's ``keepalive_timeout 0`` do: each response says ``Connection: close`` and the
connection closes after it. It kept every idle connection open with no timer at all (the
server option's Node meaning). Real daemons, their processes killed by PID at the end."""

import socket

import pytest

from harness import read_until_close


def closes_after_one_answer(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return read_until_close(sock)  # (a connection kept alive: a timeout here)


@pytest.mark.parametrize("flag, interface, app", [("--keep-alive", "events", "apps.basic:setup"),
                                                   ("--keep-alive-timeout", "wsgi", "apps.wsgi_apps:hello")])
def test_keep_alive_timeout_zero_closes_each_connection_after_its_answer(daemons, flag, interface, app):
    d = daemons(flag, "0", "--interface", interface, app=app, workers=1)
    d.wait_ready()
    answer = closes_after_one_answer(d.port)
    head = answer.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nConnection: close" in head, answer


def test_the_default_keeps_the_connection_alive(daemons):
    d = daemons(app="apps.basic:setup", workers=1)
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            assert b"Connection: keep-alive" in head, head


def test_keep_alive_off_holds_for_the_expect_paths_too(daemons):
    """A 100-continue request (the server's own 100, then the app) and a 417 the server
    writes itself close their connections too: neither goes through a plain dispatch."""
    d = daemons("--keep-alive-timeout", "0", "--interface", "wsgi", app="apps.wsgi_apps:digest", workers=1)
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"ab")
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nConnection: close" in answer, answer
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n")
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 417 ") and b"\r\nConnection: close" in answer, answer


def test_keep_alive_off_holds_when_the_app_says_keep_alive_itself(daemons, tmp_path):
    (tmp_path / "saying.py").write_text("def setup(server):\n"
                                        "    server.on('request', lambda req, res: (res.set_header('Connection', "
                                        "'keep-alive'), res.end('ok')))\n")
    d = daemons("--keep-alive-timeout", "0", "--app-dir", str(tmp_path), app="saying:setup", workers=1)
    d.wait_ready()
    answer = closes_after_one_answer(d.port)  # (the app's field is written; the connection still closes)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"ok"), answer
