"""``Socket.connect(..., timeout=seconds)`` is Node's ``net.connect({timeout})``: the
socket's idle timer is set at the call, so a connect that hangs (a listener whose
backlog is full drops the SYN) gives ``timeout`` while still connecting; a timeout that
is no number raises at the call, before a system socket is made, as Node's
``setTimeout`` throws. (The keyword was refused with TypeError.) The same program runs
on Node against the same listener."""

import asyncio
import socket
import time

import pytest

from harness import node_events
from prefork.net import Socket

NODE_SCRIPT = r"""
const s = net.connect({port: %d, host: '127.0.0.1', timeout: 300});
const t0 = Date.now();
s.on('connect', () => log('connect'));
s.on('timeout', () => { log('timeout', s.connecting, Date.now() - t0 >= 250); s.destroy(); });
s.on('close', () => { log('close'); done(); });
"""


@pytest.fixture
def full_listener():
    """A listener (backlog 0) whose queue is full: a further connect hangs unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    yield listener.getsockname()[1]
    for each in fillers + [listener]:
        each.close()


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        started = time.monotonic()
        s = Socket.connect(loop, "127.0.0.1", port, timeout=0.3)
        s.on("connect", lambda: events.append(["connect"]))
        s.on("timeout", lambda: (events.append(["timeout", s.connecting, time.monotonic() - started >= 0.25]),
                                 s.destroy()))
        s.on("close", lambda _had_error: (events.append(["close"]), closed.set_result(None)))
        await asyncio.wait_for(closed, 5)
    asyncio.run(main())
    return events


def test_the_timeout_option_times_a_connect_that_hangs(full_listener):
    expected = node_events(NODE_SCRIPT % full_listener)
    assert expected == [["timeout", True, True], ["close"]]
    assert prefork_events(full_listener) == expected


@pytest.mark.parametrize("timeout, code", [("1", "ERR_INVALID_ARG_TYPE"), (True, "ERR_INVALID_ARG_TYPE"),
                                           (-1, "ERR_OUT_OF_RANGE")])
def test_a_timeout_option_that_is_no_duration_raises_at_the_call(timeout, code):
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises((TypeError, ValueError)) as caught:
            Socket.connect(loop, "127.0.0.1", 9, timeout=timeout)
        assert caught.value.code == code
    finally:
        loop.close()


@pytest.mark.parametrize("timeout", [0, None, float("nan")])
def test_a_timeout_option_javascript_reads_as_false_sets_no_timer(timeout):
    """Node sets the timer only for a truthy ``timeout``: 0, undefined and NaN set none."""
    loop = asyncio.new_event_loop()
    try:
        sock = Socket.connect(loop, "127.0.0.1", 9, timeout=timeout)
        assert sock.timeout == 0
        sock.destroy()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
