"""The worker's loop registers a reader on a new descriptor without raising and catching
exceptions inside ``selectors``, and with the same effects as asyncio's own path: on the
default loop, on its public fallback (forced), and on uvloop where it is installed."""

import asyncio
import os
import socket
import sys
import time

import pytest

from prefork.runtime import WorkerLoop, new_event_loop

KINDS = ["asyncio", "fallback"]
try:
    __import__("uvloop")
    KINDS.append("uvloop")
except ImportError:
    pass


def make_loop(kind):
    if kind == "fallback":
        loop = WorkerLoop()
        loop._key_of = loop._transport_refs = None  # the public path, as where asyncio's internals differ
        return loop
    return new_event_loop(kind)


def run_until(loop, predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come"
        loop.run_until_complete(asyncio.sleep(0.01))


@pytest.mark.parametrize("kind", KINDS)
def test_readers_and_writers_behave_as_asyncios(kind):
    loop = make_loop(kind)
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        seen = []
        loop.add_reader(a.fileno(), seen.append, "first")
        loop.add_reader(a.fileno(), seen.append, "second")  # replaces the first
        wrote = []
        loop.add_writer(a.fileno(), lambda: (wrote.append(1), loop.remove_writer(a.fileno())))
        b.send(b"x")
        run_until(loop, lambda: seen and wrote)
        assert set(seen) == {"second"} and wrote == [1]
        removed, again = loop.remove_reader(a.fileno()), loop.remove_reader(a.fileno())
        if kind != "uvloop":  # (uvloop's remove_reader returns None)
            assert (removed, again) == (True, False)
        seen.clear()
        loop.add_reader(a.fileno(), seen.append, "again")  # a descriptor registered anew
        run_until(loop, lambda: seen)
        assert seen[0] == "again"
        loop.remove_reader(a.fileno())
        with pytest.raises((ValueError, OSError)):
            loop.add_reader(-1, seen.append)
    finally:
        a.close()
        b.close()
        loop.close()
    with pytest.raises(RuntimeError):
        loop.add_reader(b.fileno(), print)  # a closed loop refuses, as asyncio's


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "uvloop"])
def test_a_transports_descriptor_is_refused_as_asyncio_refuses_it(kind):
    loop = make_loop(kind)
    a, b = socket.socketpair()
    try:
        transport, _ = loop.run_until_complete(loop.create_connection(asyncio.Protocol, sock=a))
        with pytest.raises(RuntimeError):
            loop.add_reader(a.fileno(), print)
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        b.close()
        loop.close()


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13's own loop raises none")
def test_a_new_descriptors_reader_costs_no_exception():
    loop = new_event_loop("asyncio")
    r, w = os.pipe()
    raised = []

    def trace(frame, event, arg):
        if event == "exception":
            raised.append((frame.f_code.co_filename, arg[0].__name__))
        return trace
    try:
        sys.settrace(trace)
        try:
            loop.add_reader(r, print)
            loop.remove_reader(r)
        finally:
            sys.settrace(None)
    finally:
        os.close(r)
        os.close(w)
        loop.close()
    assert raised == []
