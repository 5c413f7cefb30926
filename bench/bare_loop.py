"""The floor: selectors + httptools answering every complete request with a canned
response. No request objects: the URL and the raw header fields are only collected (the
least any server must do with a request). bench/instructions.py measures prefork
against it.

``--asyncio`` runs the same peers on the standard library's asyncio loop (readiness
callbacks through ``add_reader``, as prefork's net layer uses it); ``--protocol`` on
asyncio's own transports (an ``asyncio.Protocol`` per connection); ``--uvloop`` makes
either of those use uvloop; ``--worker-loop`` makes them use prefork's worker loop
(``prefork.runtime.WorkerLoop``: asyncio's loop with its own turn). They give the floor
of any server built on that loop.

Usage: python3 bench/bare_loop.py [--asyncio | --protocol] [--uvloop | --worker-loop] PORT | fd://N
       (prints the port, serves until killed)
"""

import asyncio
import os
import selectors
import signal
import socket
import sys

import httptools

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n"
            b"Hello, World!")


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.parser = httptools.HttpRequestParser(self)
        self.out = []
        self.url = b""
        self.fields = []

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.fields.append((name, value))

    def on_message_complete(self):
        self.url = b""
        self.fields = []
        self.out.append(RESPONSE)

    def readable(self):
        data = self.sock.recv(65536)
        if not data:
            selector.unregister(self.sock)
            self.sock.close()
            return
        self.parser.feed_data(data)
        self.sock.send(b"".join(self.out))
        self.out.clear()


class LoopPeer(Peer):
    """A peer on an asyncio loop's readiness callbacks."""

    def readable(self):
        data = self.sock.recv(65536)
        if not data:
            loop.remove_reader(self.sock.fileno())
            self.sock.close()
            return
        self.parser.feed_data(data)
        self.sock.send(b"".join(self.out))
        self.out.clear()


class ProtocolPeer(asyncio.Protocol, Peer):
    """A peer on asyncio's transports."""

    def __init__(self):
        Peer.__init__(self, None)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.parser.feed_data(data)
        self.transport.write(b"".join(self.out))
        self.out.clear()


def accept(listener):
    sock, _ = listener.accept()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    selector.register(sock, selectors.EVENT_READ, Peer(sock).readable)


def loop_accept(listener):
    try:
        sock, _ = listener.accept()
    except BlockingIOError:
        return
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop.add_reader(sock.fileno(), LoopPeer(sock).readable)


args = sys.argv[1:]
mode = "selectors"
for flag in ("--asyncio", "--protocol"):
    if flag in args:
        args.remove(flag)
        mode = flag[2:]
use_uvloop = "--uvloop" in args
if use_uvloop:
    args.remove("--uvloop")
use_worker_loop = "--worker-loop" in args
if use_worker_loop:
    args.remove("--worker-loop")
where = args[0] if args else "0"
if where.startswith("fd://"):
    listener = socket.socket(fileno=int(where[5:]))
else:
    listener = socket.create_server(("127.0.0.1", int(where)), backlog=1024)
listener.setblocking(False)
print(listener.getsockname()[1], flush=True)
if mode == "selectors":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, lambda: accept(listener))
    while True:
        for key, _ in selector.select():
            key.data()
if use_uvloop:
    import uvloop
    loop = uvloop.new_event_loop()
elif use_worker_loop:
    from prefork.runtime import WorkerLoop
    loop = WorkerLoop()
else:
    loop = asyncio.SelectorEventLoop()
if mode == "asyncio":
    loop.add_reader(listener.fileno(), loop_accept, listener)
else:
    loop.run_until_complete(loop.create_server(ProtocolPeer, sock=listener, backlog=1024))
loop.add_signal_handler(signal.SIGTERM, loop.stop)
loop.run_forever()
