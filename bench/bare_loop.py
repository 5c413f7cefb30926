"""The floor: selectors + httptools answering every complete request with a canned
response. No request objects: the URL and the raw header fields are only collected (the
least any server must do with a request). bench/instructions.py measures prefork
against it.

Usage: python3 bench/bare_loop.py PORT | fd://N   (prints the port, serves until killed)
"""

import selectors
import signal
import socket
import sys

import httptools

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


def accept(listener):
    sock, _ = listener.accept()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    selector.register(sock, selectors.EVENT_READ, Peer(sock).readable)


where = sys.argv[1] if len(sys.argv) > 1 else "0"
if where.startswith("fd://"):
    listener = socket.socket(fileno=int(where[5:]))
else:
    listener = socket.create_server(("127.0.0.1", int(where)), backlog=1024)
listener.setblocking(False)
selector = selectors.DefaultSelector()
selector.register(listener, selectors.EVENT_READ, lambda: accept(listener))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(listener.getsockname()[1], flush=True)
while True:
    for key, _ in selector.select():
        key.data()
