"""A WSGI app forks (multiprocessing's fork, the Linux default for Pool and
ProcessPoolExecutor on Python 3.11) while a thread of its own holds the start of a
``wsgi.errors`` line: the child, which drops the other threads' locals, logged that
line too (twice in the log, from two PIDs). Only the process whose thread held it logs
it, when that thread ends."""

from daemon import wait_until

APP = '''
import multiprocessing, os, threading

def child():
    pass

def app(environ, start_response):
    errors = environ["wsgi.errors"]
    ready, go = threading.Event(), threading.Event()

    def holder():
        errors.write("held by a thread across a fork")
        ready.set()
        go.wait(5)
    thread = threading.Thread(target=holder)
    thread.start()
    ready.wait(5)
    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(10)
    go.set()
    thread.join(5)
    start_response("200 OK", [("Content-Length", str(len(str(process.exitcode))))])
    return [str(process.exitcode).encode()]
'''


def test_a_line_held_across_a_fork_is_logged_once(daemons, tmp_path):
    (tmp_path / "forking.py").write_text(APP)
    d = daemons("--app-dir", str(tmp_path), "--interface", "wsgi", app="forking:app", workers=1)
    d.wait_ready()
    answer = d.request("/", timeout=30)
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\n0"), answer
    wait_until(lambda: "held by a thread across a fork" in d.log(), 5, what="the held line logged")
    d.request("/", timeout=30)  # (a second turn: a child's line would be in the log by then)
    assert d.log().count("held by a thread across a fork") == 2, d.log()
