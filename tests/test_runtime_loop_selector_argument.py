"""The worker's loop class is made as asyncio's selector loop is made: with no argument,
or with the selector to use (``type(loop)(selector)``, as code that makes another loop
of the running one's class writes it), which it then uses as asyncio uses it."""

import asyncio
import selectors
import socket
import time

from prefork.runtime import WorkerLoop, current_loop


def run_until(loop, predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come"
        loop.run_until_complete(asyncio.sleep(0.01))


def test_a_selector_given_is_the_loops_and_serves_its_readers():
    selector = selectors.PollSelector()
    loop = WorkerLoop(selector)
    a, b = socket.socketpair()
    try:
        assert loop._selector is selector  # (as asyncio.SelectorEventLoop(selector) keeps it)
        seen = []
        loop.add_reader(a.fileno(), seen.append, "read")
        b.send(b"x")
        run_until(loop, lambda: seen)
        assert seen[0] == "read"
        assert loop.remove_reader(a.fileno()) is True
        assert loop.remove_reader(a.fileno()) is False
    finally:
        a.close()
        b.close()
        loop.close()
    assert loop.is_closed()


def test_the_running_loops_class_makes_another_loop_with_a_selector():
    loop = current_loop()
    try:
        other = type(loop)(selectors.DefaultSelector())
        try:
            assert other.run_until_complete(asyncio.sleep(0, "done")) == "done"
        finally:
            other.close()
        again = type(loop)()  # (and with none, as before)
        again.close()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
