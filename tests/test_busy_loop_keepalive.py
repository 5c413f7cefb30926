"""A keep-alive connection whose idle timer runs out while the worker's loop is busy
(a blocking call: WSGI with ``threads = 1`` runs the app inside the loop) was closed by
its stamp alone, with a request that arrived meanwhile unread in the kernel: behind
nginx's or HAProxy's connection pool, a 502. A socket with unread bytes from its peer
is not idle.

Timeline (the server's keep-alive timer is 1.5 s: keep_alive_timeout 0.5 + 1):
connection A is answered at 0; C blocks the loop from 1.2 s to 1.7 s; B's request,
queued meanwhile, is read in the turn where A's timer is due, ahead of it, and blocks
until 2.5 s; A's next request is sent at 2.0 s, during that block."""

import socket
import threading
import time

from hostile import read_to_close


def request(sock, path, close=False):
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n")


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"ok"):
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    return data


def test_a_request_that_came_while_the_loop_was_busy_is_served(serve):
    def setup(server, st):
        server.keep_alive_timeout = 0.5

        def on_request(req, res):
            if req.url.startswith("/block/"):
                time.sleep(float(req.url.rsplit("/", 1)[1]))  # a blocking app
            res.end("ok")
        server.on("request", on_request)
    st = serve(setup)
    a = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    b = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    c = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    try:
        request(a, b"/first")
        assert read_response(a).endswith(b"ok")
        start = time.monotonic()

        def at(offset, action):
            time.sleep(max(0.0, start + offset - time.monotonic()))  # (timed sends, not a wait for a result)
            action()
        sends = [threading.Thread(target=at, args=(1.2, lambda: request(c, b"/block/0.5"))),
                 threading.Thread(target=at, args=(1.4, lambda: request(b, b"/block/0.8")))]
        for thread in sends:
            thread.start()
        at(2.0, lambda: request(a, b"/second", close=True))
        for thread in sends:
            thread.join()
        answer = read_to_close(a)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"ok"), answer
    finally:
        for sock in (a, b, c):
            sock.close()
