"""Futures that several of an app's tasks sleep on at once: an app may send from two
tasks (a broadcast beside its echo loop) or receive in two, so each waiting call keeps
its own future in a list, and the event that ends the wait sets them all.

Rules:
- ``park`` adds a future to ``waiters`` and waits for it; a wait that ends otherwise
  (cancelled) takes its future out of the list, so the others wait on.
- ``wake_all`` sets every future in ``waiters`` and empties the list in place; a call that
  parks after it waits for the next wake.
"""


async def park(loop, waiters):
    waiter = loop.create_future()
    waiters.append(waiter)
    try:
        await waiter
    finally:
        if waiter in waiters:  # not woken (cancelled): the others wait on
            waiters.remove(waiter)


def wake_all(waiters):
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()
