"""After a USR2 the listen sockets the new master inherited are close-on-exec again, as
at a first start: a process the app spawns (os.posix_spawn, os.system, a subprocess with
close_fds=False) does not hold them, so once the daemon has stopped a connect is refused
rather than queued for a process that never accepts."""

import os
import signal
import socket
import textwrap

from daemon import alive, scratch_dir, wait_until

APP = textwrap.dedent('''
    import os


    def setup(server):
        def on_request(req, res):
            pid = os.posix_spawn("/bin/sleep", ["sleep", "30"], dict(os.environ))
            res.end(str(pid))
        server.on("request", on_request)
''')


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_process_spawned_after_a_usr2_holds_no_listen_socket(daemons):
    app_dir = scratch_dir("prefork-spawner-")
    with open(os.path.join(app_dir, "spawner.py"), "w") as fh:
        fh.write(APP)
    d = daemons("--app-dir", app_dir, app="spawner:setup", workers=1)
    d.wait_log(r"workers ready")
    d.signal(signal.SIGUSR2)
    d.wait_log(r"workers ready", count=2, timeout=20)
    head, _, body = d.request("/").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    child = int(body)
    try:
        d.signal(signal.SIGTERM)
        d.wait_exit()
        assert alive(child)
        assert refused(d.port)  # no process holds the listen socket any more
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
            wait_until(lambda: not alive(child), 5)
