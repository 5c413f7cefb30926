"""A reload abandoned because one new worker failed to boot lets the new workers that
already serve finish what they accepted: they drain as an old generation does, rather
than being killed with the requests they hold."""

import os
import signal
import socket
import textwrap
import threading

from daemon import scratch_dir, wait_until
from harness import read_until_close

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
                time.sleep(1.5)
                raise RuntimeError("this worker does not boot")
        loop = asyncio.get_event_loop()

        def on_request(req, res):
            loop.call_later(2.0 if req.url == "/slow" else 0, res.end, str(os.getpid()))
        server.on("request", on_request)
''')


def get(port, path, results):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            results.append(read_until_close(sock))
        finally:
            sock.close()
    except OSError as exc:
        results.append(repr(exc).encode())


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
    results = []
    threads = [threading.Thread(target=get, args=(d.port, "/slow", results)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert "reload aborted" in d.log()
    bodies = [r.partition(b"\r\n\r\n") for r in results]
    assert all(head.startswith(b"HTTP/1.1 200") for head, _, _ in bodies), results
    assert new_pid.encode() in [body for _, _, body in bodies]  # some were the new worker's
