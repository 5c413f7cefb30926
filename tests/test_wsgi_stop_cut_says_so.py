"""WSGI on threads: an upload still coming when the worker's stop cuts its connection (a
graceful stop's time running out, a fast stop) made the app's ``wsgi.input.read()`` raise
``ClientDisconnected("the client went away before the body ended")``, though the client
was there, still sending: the error now says the worker stopped and closed the
connection. A client that does go away is still told apart."""

import signal
import socket

import pytest

from daemon import wait_until


def _upload(d, tmp_path, **options):
    started, error = tmp_path / "started", tmp_path / "error"
    d = d("--interface", "wsgi", "--threads", "4", app="apps.wsgi_upload_cut:app", workers=1,
          env={"WSGI_UPLOAD_STARTED": str(started), "WSGI_UPLOAD_ERROR": str(error)}, **options)
    d.wait_ready()
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    # more than a pipe's high-water mark (the call starts), less than the body
    sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 300000)
    wait_until(started.exists, 10, what="the app's call reading the upload")
    return d, sock, error


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_upload_the_worker_stop_cuts_raises_an_error_saying_the_worker_stopped(daemons, tmp_path, signum):
    d, sock, error = _upload(daemons, tmp_path, graceful_timeout="2")
    with sock:
        d.signal(signum)
        assert d.wait_exit(15) == 0
    assert error.read_text() == ("ClientDisconnected: the worker stopped and closed the connection "
                                 "before the body ended"), d.log()


def test_an_upload_whose_client_leaves_raises_an_error_saying_the_client_went_away(daemons, tmp_path):
    d, sock, error = _upload(daemons, tmp_path)
    sock.close()
    wait_until(error.exists, 10, what="the app's read failing")
    wait_until(lambda: error.read_text(), 5, what="the error written")
    assert error.read_text() == "ClientDisconnected: the client went away before the body ended"
