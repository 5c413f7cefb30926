"""A reload abandoned because one new worker failed to boot lets the new workers that
already serve finish what they accepted: they drain as an old generation does, rather
than being killed with the requests they hold."""

import os
import signal
import socket
import textwrap

from daemon import scratch_dir, wait_until
from harness import read_until, read_until_close

APP = textwrap.dedent('''
    import asyncio
    import os
    import time

    HERE = os.path.dirname(os.path.abspath(__file__))


    def setup(server):
        if os.path.exists(os.path.join(HERE, "fail")):
            try:  # the first new worker boots; the others fail once it serves
                fd = os.open(os.path.join(HERE, "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
            except FileExistsError:
                time.sleep(2)
                raise RuntimeError("this worker does not boot")
        loop = asyncio.get_event_loop()

        def on_request(req, res):
            if req.url == "/slow":  # its pid at once, the end 4 s later
                res.write(str(os.getpid()) + "\\n")
                loop.call_later(4.0, res.end)
            else:
                res.end(str(os.getpid()))
        server.on("request", on_request)
''')


def slow_request(port):
    """A connection holding a ``/slow`` request, what it has read (the head and the
    first chunk), and the pid of the worker that took it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    seen = read_until(sock, b"\n\r\n")  # the head, then the first chunk: the pid
    sock.settimeout(10)
    return sock, seen, seen.partition(b"\r\n\r\n")[2].split(b"\r\n")[1].strip()


def test_serving_new_workers_drain_when_the_reload_is_abandoned(daemons):
    app_dir = scratch_dir("prefork-abandon-")
    with open(os.path.join(app_dir, "abandon.py"), "w") as fh:
        fh.write(APP)
    d = daemons("--app-dir", app_dir, app="abandon:setup", workers=2)
    d.wait_log(r"workers ready")
    open(os.path.join(app_dir, "fail"), "w").close()
    d.signal(signal.SIGHUP)
    first = os.path.join(app_dir, "first")
    wait_until(lambda: os.path.exists(first) and open(first).read(), 10)
    new_pid = open(first).read()
    d.wait_log(r"booting worker \d \(pid \d+, generation 2\)", count=2)
    wait_until(lambda: d.request("/").endswith(b"\r\n\r\n" + new_pid.encode()), 10,
               what="the new worker serving")  # while the other new one still boots
    held = []  # /slow requests, until one is the new worker's (the others are the old ones')
    while len(held) < 60 and new_pid.encode() not in [pid for _, _, pid in held]:
        held.append(slow_request(d.port))
    assert new_pid.encode() in [pid for _, _, pid in held], held
    d.wait_log(r"reload aborted", timeout=10)  # while they are still being answered
    results = []
    for sock, seen, _ in held:
        with sock:
            results.append(seen + read_until_close(sock))
    assert all(r.startswith(b"HTTP/1.1 200") and r.endswith(b"\r\n0\r\n\r\n") for r in results), results
