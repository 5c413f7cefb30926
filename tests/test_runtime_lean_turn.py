"""The worker loop's lean turn (its own ``_run_once`` on 3.11 and 3.12) does what asyncio's
turn does: each scenario runs on asyncio's plain selector loop and on ``WorkerLoop`` and
must leave the same trace (what ran, in which turn, in which order, what the exception
handler was told, the state of the timer queue)."""

import asyncio
import selectors
import socket
import sys
import time

import pytest

from prefork.runtime import WorkerLoop

LEAN_VERSIONS = sys.version_info[:2] in ((3, 11), (3, 12))


def counting(base):
    class Counting(base):
        turns = 0

        def _run_once(self):
            self.turns += 1
            super()._run_once()
    return Counting


PlainLoop = counting(asyncio.SelectorEventLoop)
LeanLoop = counting(WorkerLoop)


def run_turns(loop, turns):
    """``turns`` turns of ``loop`` (stop() then run_forever: the turn that sees the stop ends
    it, without waiting in its poll)."""
    for _ in range(turns):
        start = time.monotonic()
        loop.stop()
        loop.run_forever()
        assert time.monotonic() - start < 2.0, "a stopping turn waited"


def on_both(scenario):
    traces = []
    for cls in (PlainLoop, LeanLoop):
        loop = cls()
        loop.call_later(3, lambda: None)  # (a turn that would wait for ever wakes up)
        try:
            traces.append(scenario(loop))
        finally:
            loop.close()
    return traces


def test_the_lean_turn_is_the_one_in_use():
    loop = WorkerLoop()
    try:
        assert (loop._lean is not None) == LEAN_VERSIONS
    finally:
        loop.close()
    given = WorkerLoop(selectors.SelectSelector())  # a selector of the caller's: asyncio's own turn
    try:
        assert given._lean is None
    finally:
        given.close()


def callbacks_scenario(loop):
    trace = []
    loop.set_exception_handler(lambda lp, context: trace.append(("error", context["message"])))

    def note(label):
        trace.append((loop.turns, label))

    def first():
        note("first")
        loop.call_soon(note, "added during the turn")  # waits for the next turn
        cancelled_later.cancel()  # queued in this turn already: skipped

    loop.call_soon(first)
    loop.call_soon(note, "second")
    cancelled_later = loop.call_soon(note, "never")
    loop.call_soon(note, "third")
    cancelled = loop.call_soon(note, "never either")
    cancelled.cancel()
    run_turns(loop, 3)
    return trace


def timers_scenario(loop):
    trace = []
    now = loop.time()

    def note(label):
        trace.append((loop.turns, label))

    loop.call_at(now - 1.0, note, "past b")
    loop.call_at(now - 2.0, note, "past a")
    loop.call_at(now + 0.03, note, "soon")
    loop.call_at(now + 3600, note, "an hour")
    gone = loop.call_at(now - 3.0, note, "cancelled")
    gone.cancel()
    loop.call_soon(note, "ready first")
    run_turns(loop, 1)  # the due timers run after the ready handles of the turn
    deadline = time.monotonic() + 5
    while not any(label == "soon" for _, label in trace):
        assert time.monotonic() < deadline
        run_turns(loop, 1)
    assert loop.time() >= now + 0.03
    resolution, loop._clock_resolution = loop._clock_resolution, 10.0
    loop.call_at(loop.time() + 5, note, "due within the clock's resolution")
    loop.call_at(loop.time() + 20, note, "not yet")
    run_turns(loop, 1)
    loop._clock_resolution = resolution
    assert trace[-1][1] == "due within the clock's resolution"
    return [label for _, label in trace], trace[0][0] == trace[2][0] == 1, len(loop._scheduled)


def cleanup_scenario(loop):
    # past the threshold (more than 100 timers, more than half cancelled): one sweep
    order = []
    handles = [loop.call_later(3600 + i, order.append, i) for i in range(150)]
    for handle in handles[:100]:
        handle.cancel()
    before = (len(loop._scheduled), loop._timer_cancelled_count)
    run_turns(loop, 1)
    after = (len(loop._scheduled), loop._timer_cancelled_count)
    flags = [handle._scheduled for handle in handles]
    # below it: only the cancelled ones at the head go
    few = [loop.call_later(0.5 * i, lambda: None) for i in range(1, 5)]
    few[0].cancel()
    few[2].cancel()
    run_turns(loop, 1)
    # what is left is still a heap: with every timer due (within a huge clock resolution)
    # they run in their deadlines' order
    for i, handle in enumerate(few):
        if not handle.cancelled():
            handle.cancel()
            loop.call_at(handle.when(), order.append, ("few", i))
    for i in (7, 3, 9, 1):
        loop.call_later(100 + i, order.append, i)
    loop._clock_resolution = 10.0 ** 6
    run_turns(loop, 1)
    return before, after, flags, (len(loop._scheduled), loop._timer_cancelled_count), \
        [handle._scheduled for handle in few], order


def stop_scenario(loop):
    trace = []

    def stopper():
        trace.append((loop.turns, "stopper"))
        loop.stop()
        loop.call_soon(trace.append, "after the stop")

    loop.call_soon(stopper)
    loop.call_soon(trace.append, "same turn")
    loop.run_forever()  # the turn ends, then the loop
    trace.append(("stopped after", loop.turns))
    loop.call_soon(loop.stop)
    loop.run_forever()
    trace.append(("again", loop.turns))
    return trace


def exceptions_scenario(loop):
    seen = []

    def handler(lp, context):
        seen.append((lp is loop, sorted(context), context["message"], type(context["exception"]).__name__,
                     str(context["exception"]), context["handle"] in handles))

    def boom(n):
        raise ValueError(n)

    def cancel_boom(n):
        raise asyncio.CancelledError(n)  # a BaseException: the handler too

    loop.set_exception_handler(handler)
    handles = [loop.call_soon(boom, 0), loop.call_soon(cancel_boom, 1), loop.call_soon(seen.append, "goes on"),
               loop.call_at(loop.time() - 1, boom, 3)]  # (a timer's, by its own _run)
    odd = asyncio.Handle(boom, None, loop)  # (arguments that are no tuple: its _run's TypeError)
    handles.append(odd)
    loop._ready.append(odd)
    run_turns(loop, 1)
    return seen


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt])
def test_system_exit_and_interrupt_leave_the_loop_as_asyncios(exc):
    def scenario(loop):
        trace = []

        def boom():
            raise exc("out")
        loop.call_soon(boom)
        loop.call_soon(trace.append, "next")
        guard = loop.call_later(2, loop.stop)  # (were it caught, the loop would run on)
        with pytest.raises(exc):
            loop.run_forever()
        guard.cancel()
        loop.call_soon(loop.stop)
        loop.run_forever()  # the one left in the queue runs on the next run
        return trace
    plain, lean = on_both(scenario)
    assert plain == lean == ["next"]


def debug_scenario(loop):
    loop.set_debug(True)  # asyncio's own turn: it keeps the current handle
    seen = []
    loop.call_soon(lambda: seen.append(loop._current_handle is not None))
    run_turns(loop, 1)
    loop.set_debug(False)
    loop.call_soon(lambda: seen.append(loop._current_handle is None))
    run_turns(loop, 1)
    return seen


@pytest.mark.parametrize("scenario", [callbacks_scenario, timers_scenario, cleanup_scenario, stop_scenario,
                                      exceptions_scenario, debug_scenario])
def test_the_same_trace_as_asyncios_turn(scenario):
    plain, lean = on_both(scenario)
    assert plain == lean


def sockets_scenario(loop):
    trace = []
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    for s in (a, b, c, d):
        s.setblocking(False)
    try:
        def read(sock, label):
            data = sock.recv(100)
            trace.append((loop.turns, label, data))
            if data == b"one":
                loop.remove_reader(c.fileno())  # c's handle, queued in this turn too, is skipped
            if data == b"bye":
                loop.remove_reader(sock.fileno())

        def written():
            trace.append((loop.turns, "writable"))
            loop.remove_writer(b.fileno())
            loop.call_soon(trace.append, "after the write")

        loop.add_reader(a.fileno(), read, a, "a")
        loop.add_reader(c.fileno(), read, c, "c")
        b.send(b"one")
        d.send(b"two")  # both readable in one poll: a's reader runs first and removes c's
        run_until(loop, lambda: len(trace) >= 1)
        run_turns(loop, 2)
        first = [entry[1:] for entry in trace]
        trace.clear()
        loop.add_writer(b.fileno(), written)
        b.send(b"bye")
        run_until(loop, lambda: "after the write" in trace)
        # a reader whose handle was cancelled without its removal: the turn unregisters it
        handle = loop._add_reader(d.fileno(), trace.append, "never")
        handle.cancel()
        c.send(b"x")
        run_until(loop, lambda: loop._selector.get_map().get(d.fileno()) is None)
        handle = loop._add_writer(d.fileno(), trace.append, "never written")  # the same, for a writer
        handle.cancel()
        run_until(loop, lambda: loop._selector.get_map().get(d.fileno()) is None)
        # a descriptor with a reader and a writer, readable but not writable: only the reader runs
        try:
            while True:
                a.send(b"f" * 65536)
        except BlockingIOError:
            pass
        loop.add_reader(a.fileno(), read, a, "a")
        loop.add_writer(a.fileno(), trace.append, "a writable")
        b.send(b"x")
        run_until(loop, lambda: ("a", b"x") in [entry[1:] for entry in trace if isinstance(entry, tuple)])
        run_turns(loop, 2)
        loop.remove_writer(a.fileno())
        still_c = c.fileno() in loop._selector.get_map()
        return first, [entry[1:] if isinstance(entry, tuple) else entry for entry in trace], still_c
    finally:
        for s in (a, b, c, d):
            s.close()


def run_until(loop, predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come"
        loop.run_until_complete(asyncio.sleep(0.005))


def test_real_socket_readers_and_writers_as_asyncios():
    plain, lean = on_both(sockets_scenario)
    assert plain == lean


def test_a_waiting_turn_sleeps_until_the_timer_and_no_longer():
    def scenario(loop):
        fired = []
        start = time.monotonic()
        loop.call_later(0.05, lambda: (fired.append(time.monotonic() - start), loop.stop()))
        guard = loop.call_later(5, loop.stop)
        loop.run_forever()
        guard.cancel()
        return fired
    for fired in on_both(scenario):
        assert len(fired) == 1 and 0.05 <= fired[0] < 2.0
