"""A process a worker forks and interrupts at once (``start()`` then an INT, as a
Ctrl-C to the process group that lands while an app forks): the INT, blocked across
the fork, came while the child put back its signal actions, where the
KeyboardInterrupt it raised was printed as "Exception ignored" and the child ran on
with the INT lost. The child now dies of it (or, if it came later, of its
KeyboardInterrupt), and the worker serves on."""

import signal

from daemon import wait_until

APP = '''
import multiprocessing, os, signal, time

def _sleep():
    time.sleep(30)

def setup(server):
    def on_request(req, res):
        codes = []
        for _ in range(10):
            child = multiprocessing.get_context("fork").Process(target=_sleep)
            child.start()
            os.kill(child.pid, signal.SIGINT)  # at once: the child may not have run a line yet
            child.join(5)
            codes.append(child.exitcode)
            if child.exitcode is None:
                child.kill()
                child.join(5)
        res.end(f"{os.getpid()} {' '.join(map(str, codes))}")
    server.on("request", on_request)
'''


def test_a_child_interrupted_right_after_its_start_ends_and_the_worker_serves_on(daemons, tmp_path):
    (tmp_path / "forker.py").write_text(APP)
    d = daemons("--app-dir", str(tmp_path), app="forker:setup", workers=1)
    d.wait_ready()
    worker = d.workers()[0]
    for _ in range(2):
        answer = d.request("/", timeout=120)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        pid, *codes = answer.partition(b"\r\n\r\n")[2].decode().split()
        assert int(pid) == worker
        # killed by the INT (or by its KeyboardInterrupt, when it came after the set-up)
        assert set(codes) <= {str(-signal.SIGINT), "1"}, codes
    assert "Exception ignored" not in d.log(), d.log()
    assert d.workers() == [worker]
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    wait_until(lambda: "master exiting with status 0" in d.log(), 5, what="the master's last line")
