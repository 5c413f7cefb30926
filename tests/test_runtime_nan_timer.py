"""A timer due at NaN (``asyncio.sleep(float("nan"))``, ``wait_for(..., timeout=nan)``,
``call_later(nan, ...)``: a timeout parsed from a client's text, ``float("nan")``, is
one) is run at once by asyncio's turn, which waits ``min(max(0, NaN), ...)``, that is 0.
The worker loop's own turn computed its poll's timeout from it (``ceil(NaN)``) and
raised ``ValueError`` out of ``run_forever``: the loop, and with it a worker or a
standalone server, ended. It is run at once here too, as asyncio's turn runs it."""

import asyncio

import pytest

from prefork.runtime import WorkerLoop

NAN = float("nan")
LOOPS = [asyncio.SelectorEventLoop, WorkerLoop]


def run_bounded(loop, bound=5.0):
    """Run ``loop`` until something stops it, at most ``bound`` seconds; what it raised, or None."""
    loop.call_later(bound, loop.stop)
    try:
        loop.run_forever()
    except Exception as exc:  # (the defect: ValueError out of the turn)
        return exc
    return None


def run_bounded_later(loop, bound=5.0):
    """The same bound, its timer scheduled now (for a ``call_soon``)."""
    loop.call_later(bound, loop.stop)


@pytest.mark.parametrize("factory", LOOPS, ids=lambda f: f.__name__)
def test_a_lone_timer_due_at_nan_runs_at_once(factory):
    loop = factory()
    try:
        ran = []
        loop.call_later(NAN, lambda: (ran.append("nan"), loop.stop()))
        # (the bound's own timer is scheduled after it: the NaN one is at the queue's head)
        raised = run_bounded(loop)
        assert raised is None
        assert ran == ["nan"]
    finally:
        loop.close()


@pytest.mark.parametrize("factory", LOOPS, ids=lambda f: f.__name__)
def test_a_sleep_of_nan_seconds_returns(factory):
    loop = factory()
    try:
        task = loop.create_task(asyncio.sleep(NAN, "slept"))
        task.add_done_callback(lambda _: loop.stop())
        loop.call_soon(run_bounded_later, loop)  # (after the task's first step: its timer first)
        loop.run_forever()
        assert task.done() and task.result() == "slept"
    finally:
        loop.close()



@pytest.mark.parametrize("factory", LOOPS, ids=lambda f: f.__name__)
def test_a_nan_timer_brought_to_the_head_by_a_cancelled_timer_runs(factory):
    """Other timers pending, as in a worker: the removal of a cancelled timer at the
    queue's head brings the NaN one there (the heap's order holds no NaN)."""
    loop = factory()
    try:
        ran = []
        first = loop.call_later(0.001, ran.append, "cancelled")
        loop.call_later(4.0, lambda: (ran.append("bound"), loop.stop()))
        loop.call_later(NAN, lambda: (ran.append("nan"), loop.stop()))
        loop.call_later(4.5, ran.append, "later")
        first.cancel()
        raised = run_bounded(loop)
        assert raised is None
        assert ran == ["nan"]
    finally:
        loop.close()
