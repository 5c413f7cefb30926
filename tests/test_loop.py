import os
import signal
import socket
import time

import pytest

from prefork import EventEmitter, Loop


def test_timers_run_in_deadline_order_and_cancel():
    loop = Loop()
    seen = []
    loop.call_later(0.03, seen.append, "b")
    loop.call_later(0.01, seen.append, "a")
    cancelled = loop.call_later(0.02, seen.append, "never")
    cancelled.cancel()
    start = loop.time()
    loop.run()  # returns once nothing is left to wait for
    assert seen == ["a", "b"]
    assert loop.time() - start >= 0.03


def test_call_soon_is_fifo_and_runs_after_the_current_callback():
    loop = Loop()
    seen = []

    def first():
        loop.call_soon(seen.append, 2)
        seen.append(1)
    loop.call_soon(first)
    loop.call_soon(seen.append, 1.5)
    loop.run()
    assert seen == [1, 1.5, 2]


def test_readers_writers_and_args():
    loop = Loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    got = []

    def readable(sock, tag):
        got.append((tag, sock.recv(10)))
        loop.remove_reader(sock.fileno())

    def writable(sock):
        sock.send(b"ping")
        loop.remove_writer(sock.fileno())
    loop.add_reader(a.fileno(), readable, a, "t")
    loop.add_writer(b.fileno(), writable, b)
    loop.run()
    assert got == [("t", b"ping")]
    assert loop.remove_reader(a.fileno()) is False
    a.close()
    b.close()


def test_stop_and_exceptions_do_not_kill_the_loop(caplog):
    loop = Loop()
    seen = []

    def boom():
        raise RuntimeError("listener bug")
    loop.call_soon(boom)
    loop.call_later(0.01, seen.append, "after")
    loop.call_later(0.02, loop.stop)
    loop.call_later(5, seen.append, "too late")
    loop.run()
    assert seen == ["after"]
    assert "listener bug" in caplog.text


def test_signal_handler_runs_on_the_loop():
    loop = Loop()
    seen = []

    def on_usr1():
        seen.append(signal.SIGUSR1)
        loop.stop()
    loop.add_signal_handler(signal.SIGUSR1, on_usr1)
    loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    guard = loop.call_later(5, loop.stop)
    loop.run()
    guard.cancel()
    loop.close()
    assert seen == [signal.SIGUSR1]
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_call_soon_threadsafe_wakes_a_sleeping_loop():
    import threading
    loop = Loop()
    a, b = socket.socketpair()
    loop.add_reader(a.fileno(), lambda: None)  # keeps the loop sleeping
    t = threading.Timer(0.05, loop.call_soon_threadsafe, (loop.stop,))
    t.start()
    start = time.monotonic()
    loop.run()
    assert time.monotonic() - start < 2
    loop.close()
    a.close()
    b.close()


def test_emitter_semantics(caplog):
    em = EventEmitter()
    seen = []
    em.on("x", lambda v: seen.append(("on", v)))
    em.once("x", lambda v: seen.append(("once", v)))
    em.prepend_listener("x", lambda v: seen.append(("first", v)))
    assert em.listener_count("x") == 3
    assert em.emit("x", 1) is True
    em.emit("x", 2)
    assert seen == [("first", 1), ("on", 1), ("once", 1), ("first", 2), ("on", 2)]
    fn = seen.append
    em.on("y", fn)
    em.off("y", fn)
    assert em.emit("y", 0) is False and em.listener_count("y") == 0
    once = []
    em.once("z", once.append)
    em.off("z", once.append)  # a once listener is removed by its original function
    assert em.listener_count("z") == 0
    assert em.emit("error", ValueError("nobody listens")) is False
    assert "nobody listens" in caplog.text
    with pytest.raises(KeyError):
        em.on("k", lambda: {}["missing"])
        em.emit("k")


def test_a_cancelled_timer_lets_go_of_its_callback_at_once():
    """The master's operations endpoints arm a 30 s idle timer per connection; a probe's
    connection closes in milliseconds and cancels it, but the heap kept the timer, and
    through its callback the connection's objects, for the 30 s: the master grew by
    about 2.7 kB per probe at 200 probes a second."""
    import gc
    import weakref

    class Held:
        def fire(self):
            pass
    loop = Loop()
    held = Held()
    ref = weakref.ref(held)
    handle = loop.call_later(30, held.fire)
    handle.cancel()
    del held
    gc.collect()
    assert ref() is None  # let go while the cancelled timer is still in the heap


def test_uvloop_that_cannot_be_imported_says_why(tmp_path):
    """An installed uvloop whose own import fails (a module it needs missing, or unreadable
    after the worker's privileges went) is not reported as "not installed"."""
    import os
    import subprocess
    import sys
    (tmp_path / "uvloop").mkdir()
    (tmp_path / "uvloop" / "__init__.py").write_text("import prefork_missing_dependency_of_uvloop\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
            "from prefork.runtime import LoopUnavailable, new_event_loop\n"
            "try:\n    new_event_loop('uvloop')\nexcept LoopUnavailable as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), root], capture_output=True, text=True, timeout=60)
    assert "not installed" not in out.stdout, out.stdout
    assert "uvloop cannot be imported" in out.stdout and "prefork_missing_dependency_of_uvloop" in out.stdout, out


def test_cancelled_timers_do_not_pile_up_in_the_heap():
    """Many short connections each cancel an idle timer due much later: the heap is
    cleared of them as it grows (it held every one until due), and live timers keep
    their order."""
    loop = Loop()
    fired = []
    loop.call_later(0.05, fired.append, "late")
    loop.call_later(0.01, fired.append, "early")
    most = 0
    for i in range(20000):
        loop.call_later(3600 + i, fired.append, "never").cancel()
        most = max(most, len(loop._timers))
    assert most <= 1024, most
    loop.call_later(0.1, loop.stop)
    loop.run()
    assert fired == ["early", "late"]
