"""A process a worker forks and terminates at once (``start()`` then ``terminate()``,
as a pool shut down right after it started does) ends by that TERM: the signal, sent
before the child has put back the default actions, waits for them rather than running
the worker's handler in the child, which left the child alive and, through the wakeup
descriptor both shared, made the worker's own loop drain."""

import signal

from daemon import wait_until

APP = '''
import multiprocessing, os, time

def _sleep():
    time.sleep(30)

def setup(server):
    def on_request(req, res):
        codes = []
        for _ in range(10):
            child = multiprocessing.get_context("fork").Process(target=_sleep)
            child.start()
            child.terminate()  # at once: the child may not have run a line yet
            child.join(5)
            codes.append(child.exitcode)
            if child.exitcode is None:
                child.kill()
                child.join(5)
        res.end(f"{os.getpid()} {' '.join(map(str, codes))}")
    server.on("request", on_request)
'''


def test_a_child_terminated_right_after_its_start_ends_and_the_worker_serves_on(daemons, tmp_path):
    (tmp_path / "forker.py").write_text(APP)
    d = daemons("--app-dir", str(tmp_path), app="forker:setup", workers=1)
    d.wait_ready()
    worker = d.workers()[0]
    for _ in range(3):
        answer = d.request("/", timeout=60)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        pid, *codes = answer.partition(b"\r\n\r\n")[2].decode().split()
        assert int(pid) == worker
        assert codes == [str(-signal.SIGTERM)] * 10, codes
    assert "drains on a signal sent to it" not in d.log(), d.log()
    assert d.workers() == [worker]
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    wait_until(lambda: "master exiting with status 0" in d.log(), 5, what="the master's last line")
