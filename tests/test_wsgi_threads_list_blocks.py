"""With threads, a list body of many blocks (a CSV export built row by row) was joined
into one bytes for its single send, and the call's thread kept the list too while it
waited for a slow client to take the body: the worker held every block twice for as
long as the client read (gunicorn's gthread holds them once). The list is now let go
once joined.
"""

import socket
import time
import tracemalloc

from prefork.wsgi import WSGIAdapter

BLOCK = 1 << 20
BLOCKS = 48


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/csv")])
    return [bytes([65 + i % 26]) * BLOCK for i in range(BLOCKS)]


def test_a_slow_reader_of_a_list_body_holds_its_blocks_once(serve):
    adapter = WSGIAdapter(app, threads=4)
    st = serve(lambda server, _st: adapter.setup(server))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", st.port))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            head = sock.recv(200)  # (out once the thread handed the body over: it waits for the client now)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            deadline = time.monotonic() + 5
            held = tracemalloc.get_traced_memory()[0] - before
            while held > BLOCK * BLOCKS * 1.5 and time.monotonic() < deadline:
                time.sleep(0.02)
                held = tracemalloc.get_traced_memory()[0] - before
            assert held < BLOCK * BLOCKS * 1.5, f"{held >> 20} MiB held for a {BLOCKS} MiB body"
    finally:
        tracemalloc.stop()
        adapter.close()
