"""Which ``socket.write(data, callback)`` callbacks get Node's ``err``: those that name a
positional parameter (a function, a bound method, an object's ``__call__``, what a
``partial`` leaves open). One that only forwards ``*args`` (a decorator without
``functools.wraps``, ``partial(loop.call_soon, event.set)``) is called with
no argument (one made with ``wraps`` counts as what it wraps; a builtin such as
``future.set_result`` as its stated signature), as before the error was passed: given None, the first raised TypeError and
whatever waited on it hung. And a write's callback on a server connection's socket runs
after ``destroy()`` returns, as Node's (it ran inside the destroy)."""

import asyncio
import functools
import socket
import threading

import prefork
from prefork.net import Socket
from prefork.runtime import new_event_loop


def forwarding(fn):  # a decorator without functools.wraps
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


class Anything:
    """A proxy-like object whose every missing attribute is itself."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return self

    def __call__(self, *args):
        self.calls.append(args)


class Recorder:
    def __init__(self):
        self.seen = []

    def method(self, err):
        self.seen.append(("method", err))

    def no_error(self):
        self.seen.append(("no_error",))

    def __call__(self, err):
        self.seen.append(("call", err))


def test_each_shape_of_callback_is_called_as_it_can_be():
    async def main():
        loop = asyncio.get_running_loop()
        mine, peer = socket.socketpair()
        mine.setblocking(False)
        sock = Socket(loop, mine)
        recorder = Recorder()
        seen = recorder.seen
        done = asyncio.Event()

        @forwarding
        def decorated():
            seen.append(("decorated",))

        def two(tag, err):
            seen.append((tag, err))
        sock.write(b"a", decorated)
        sock.write(b"b", functools.partial(loop.call_soon, seen.append, ("call_soon",)))
        sock.write(b"c", lambda err: seen.append(("lambda", err)))
        sock.write(b"d", lambda *args: seen.append(("varargs", args)))
        sock.write(b"e", recorder.method)
        sock.write(b"f", recorder.no_error)
        sock.write(b"g", recorder)
        sock.write(b"h", functools.partial(two, "partial"))

        def traced(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs)
            return wrapper

        @traced
        def on_written(err):
            seen.append(("wrapped", err))
        sock.write(b"i", on_written)
        appended = []
        sock.write(b"j", appended.append)
        future = loop.create_future()
        sock.write(b"k", future.set_result)
        anything = Anything()  # answers every attribute: walked a bounded way, called with none
        sock.write(b"m", anything)
        sock.write(b"l", done.set)
        await asyncio.wait_for(done.wait(), 5)
        assert await asyncio.wait_for(future, 5) is None
        assert appended == [None]
        assert anything.calls == [()]
        await asyncio.sleep(0)  # (call_soon's append runs a turn later)
        sock.destroy()
        peer.close()
        return seen
    seen = asyncio.run(main())
    assert sorted(seen, key=repr) == sorted([("decorated",), ("call_soon",), ("lambda", None), ("varargs", ()),
                                             ("method", None), ("no_error",), ("call", None),
                                             ("partial", None), ("wrapped", None)], key=repr), seen


def test_a_write_callback_runs_after_the_destroy_that_follows_it():
    loop = new_event_loop("asyncio")
    order = []
    finished = threading.Event()

    def handler(req, res):
        sock = req.socket
        sock.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", lambda *args: order.append("callback"))
        order.append("destroy called")
        sock.destroy()
        order.append("destroy returned")
        loop.call_soon(loop.call_soon, finished.set)
    server = prefork.create_server(handler, loop=loop)
    server.listen(0, "127.0.0.1")
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        client = socket.create_connection(("127.0.0.1", server.address()["port"]), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := client.recv(4096):
            data += chunk
        client.close()
        assert finished.wait(5)
        assert data.endswith(b"hi")
        assert order == ["destroy called", "destroy returned", "callback"], order  # Node's order
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
