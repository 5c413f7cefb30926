"""A process a worker forks and stops at once, before the child has run a line of its own:
- ``start()`` then ``terminate()`` (a pool shut down right after it started): the TERM,
  blocked across the fork, waits for the child's default actions rather than running the
  worker's handler in the child, which left the child alive and, through the wakeup
  descriptor both shared, made the worker's own loop drain;
- ``start()`` then an INT (a Ctrl-C to the process group that lands while an app forks):
  the INT came while the child put back its signal actions, where the KeyboardInterrupt
  it raised was printed as "Exception ignored" and the child ran on with the INT lost.
  The child now dies of it (or, if it came later, of its KeyboardInterrupt).
Either way the worker serves on."""

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
            if req.url == "/int":
                os.kill(child.pid, signal.SIGINT)  # at once: the child may not have run a line yet
            else:
                child.terminate()  # (the same)
            child.join(5)
            codes.append(child.exitcode)
            if child.exitcode is None:
                child.kill()
                child.join(5)
        res.end(f"{os.getpid()} {' '.join(map(str, codes))}")
    server.on("request", on_request)
'''


def stopped_children(daemons, tmp_path, path, rounds):
    """The exit codes of the children of ``rounds`` requests to ``path``, each served by the
    daemon's one worker, which then stops cleanly."""
    (tmp_path / "forker.py").write_text(APP)
    d = daemons("--app-dir", str(tmp_path), app="forker:setup", workers=1)
    d.wait_ready()
    worker = d.workers()[0]
    codes = []
    for _ in range(rounds):
        answer = d.request(path, timeout=120)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        pid, *round_codes = answer.partition(b"\r\n\r\n")[2].decode().split()
        assert int(pid) == worker
        codes.append(round_codes)
    log = d.log()
    assert d.workers() == [worker]
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    wait_until(lambda: "master exiting with status 0" in d.log(), 5, what="the master's last line")
    return codes, log


def test_a_child_terminated_right_after_its_start_ends_and_the_worker_serves_on(daemons, tmp_path):
    codes, log = stopped_children(daemons, tmp_path, "/term", 3)
    assert codes == [[str(-signal.SIGTERM)] * 10] * 3, codes
    assert "drains on a signal sent to it" not in log, log


def test_a_child_interrupted_right_after_its_start_ends_and_the_worker_serves_on(daemons, tmp_path):
    codes, log = stopped_children(daemons, tmp_path, "/int", 2)
    for round_codes in codes:  # killed by the INT (or by its KeyboardInterrupt, when it came after the set-up)
        assert set(round_codes) <= {str(-signal.SIGINT), "1"}, round_codes
    assert "Exception ignored" not in log, log


HOOK_APP = '''
import os, signal

def _ignore_int():
    signal.signal(signal.SIGINT, signal.SIG_IGN)

def setup(server):
    hooked = []
    def on_request(req, res):
        if not hooked:  # the app's own, registered once serving: it runs after the worker's
            os.register_at_fork(after_in_child=_ignore_int)
            hooked.append(True)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, repr(signal.getsignal(signal.SIGINT)).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        os.close(write)
        res.end(os.read(read, 200))
        os.close(read)
    server.on("request", on_request)
'''


def test_an_int_action_set_by_the_apps_own_fork_hook_is_kept_in_the_child(daemons, tmp_path):
    (tmp_path / "hooked.py").write_text(HOOK_APP)
    d = daemons("--app-dir", str(tmp_path), app="hooked:setup", workers=1)
    d.wait_ready()
    answer = d.request("/", timeout=30)
    assert answer.endswith(b"Handlers.SIG_IGN: 1>"), answer
