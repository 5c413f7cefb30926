"""A head of thousands of tiny fields left unfinished costs the worker no more Python
calls per field than a complete one: Node's header count (the span still open at the
end of a read included) was kept by a second llhttp whose span callbacks are Python
calls, started for every open head past ``max_header_size`` wire bytes; it is now
started only when the count could reach the limit in that read (the count so far is
exact up to the last field's line). The calls made on the server's loop thread are
counted while a real client sends the head in two parts."""

import collections
import socket
import sys

from daemon import wait_until

FIELDS = 7000
HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"a:b\r\n" * FIELDS  # (count 14,001: under the 16 KiB limit)


def test_an_unfinished_head_of_tiny_fields_costs_about_one_python_call_per_field(serve):
    calls = collections.Counter()

    def profile(frame, event, arg):
        if event == "call":
            calls[frame.f_code.co_name] += 1

    st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")))
    st.call(sys.setprofile, profile)
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
            sock.sendall(HEAD)
            # the fields reach the parser (each handed over once the next one starts)
            wait_until(lambda: st.call(lambda: calls["on_header"]) >= FIELDS, 10, what="the fields parsed")
            sock.sendall(b"\r\n")
            reply = sock.recv(65536)
    finally:
        st.call(sys.setprofile, None)
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
    assert sum(calls.values()) < 2.5 * FIELDS, calls.most_common(5)


def test_an_unfinished_head_of_tiny_fields_holds_its_raw_fields_alone(serve):
    """Node's ``headers`` map (and the lists its repeated fields are joined from) is made
    once the head is whole: an unfinished head of 7,000 fields held both besides its raw
    list, about 215 KiB a connection with its kept bytes and its connection objects;
    about 155 without them (the raw list is two pointers a field)."""
    import tracemalloc
    parsed = collections.Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "on_header":
            parsed[0] += 1

    st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")))
    socks = []
    tracemalloc.start()
    try:
        st.call(sys.setprofile, profile)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            socks.append(socket.create_connection(("127.0.0.1", st.port), timeout=10))
            socks[-1].sendall(HEAD)
        wait_until(lambda: st.call(lambda: parsed[0]) >= 10 * FIELDS, 10, what="the fields parsed")
        st.call(sys.setprofile, None)
        held = (tracemalloc.get_traced_memory()[0] - before) / 10
    finally:
        tracemalloc.stop()
        st.call(sys.setprofile, None)
        for sock in socks:
            sock.close()
    assert held < 185 * 1024, f"{held / 1024:.0f} KiB held per unfinished head"
