"""A WSGI request body that cannot be kept in its temporary file (a full ``TMPDIR``, no
descriptor left; here the file-size limit, which makes the spool's write fail as a full
disk does) is answered 500 with one error line saying why, without calling the app and
without a traceback of prefork's code; the worker serves on, and a body that fits in
memory is still served. The 500 closes the connection: the rest of the body is not
read on (past ``max_body_size``). A real daemon, its processes killed by PID at the end."""

import socket

from harness import read_until

SPOOL = 64 * 1024


def post(port, size, close=True):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\n%sContent-Length: %d\r\n\r\n"
                     % (b"Connection: close\r\n" if close else b"", size))
        try:
            sock.sendall(b"x" * size)
        except OSError:  # (answered and closed before the whole body was taken)
            pass
        return read_until(sock, b"\r\n\r\n", timeout=10)


def test_a_body_that_cannot_be_spooled_gets_a_500_and_one_clear_line(daemons):
    d = daemons("--interface", "wsgi", "--wsgi-body-spool", str(SPOOL), app="apps.wsgi_apps:digest", workers=1,
                prefix=("prlimit", f"--fsize={SPOOL * 4}", "--"))
    d.wait_ready()
    worker, = d.workers()
    head = post(d.port, SPOOL * 16, close=False)
    assert head.startswith(b"HTTP/1.1 500 "), head
    assert b"\r\nConnection: close" in head, head  # (the rest of the body is not read on)
    d.wait_log(r"cannot keep a request body \(\d+ bytes so far\) in a temporary file \(TMPDIR\): "
               r"\[Errno 27\] File too large; answered 500 without calling the app")
    assert "Traceback" not in d.log(), d.log()
    assert post(d.port, SPOOL // 2).startswith(b"HTTP/1.1 200 "), "a body kept in memory is still served"
    assert d.workers() == [worker]
