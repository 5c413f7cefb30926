"""The server's ``timeout`` is checked when it is set (``server.set_timeout(seconds)``,
the ``timeout`` attribute, the ``timeout`` option), as Node's socket checks its timeout:
not a number is ERR_INVALID_ARG_TYPE, a negative, NaN or infinite one ERR_OUT_OF_RANGE,
raised to the caller with nothing changed. Every connection takes the server's timeout
as given; a bad one used to raise at each accept (``set_timeout(math.inf)``: every
connection hung open, unanswered) or at the next request on a kept-alive connection
(``timeout = -1``: the second request got no answer). Node v20 takes such a value and
throws it at connection time, which kills the process.
"""

import math
import socket

import pytest

import prefork

BAD = [("abc", "ERR_INVALID_ARG_TYPE"), (True, "ERR_INVALID_ARG_TYPE"), (-1, "ERR_OUT_OF_RANGE"),
       (math.nan, "ERR_OUT_OF_RANGE"), (math.inf, "ERR_OUT_OF_RANGE")]


def _code(call):
    try:
        call()
        return "ok"
    except Exception as exc:  # the code is what is compared
        return getattr(exc, "code", repr(exc))


def _exchange(sock, data):
    sock.sendall(data)
    out = b""
    while b"\r\n\r\nok" not in out:
        chunk = sock.recv(4096)
        if not chunk:
            break
        out += chunk
    return out


def _ok_server(serve, setup):
    def full(server, st):
        server.on("request", lambda req, res: res.end("ok"))
        setup(server, st)
    return serve(full)


def test_set_timeout_refuses_a_bad_value_and_connections_are_still_served(serve):
    def setup(server, st):
        server.set_timeout(0.25)
        st.record("codes", [_code(lambda: server.set_timeout(v, lambda s: None)) for v, _ in BAD])
        st.record("after", server.timeout, server.listener_count("timeout"))

    st = _ok_server(serve, setup)
    assert st.wait_for(lambda e: e[0] == "codes")[1] == [code for _, code in BAD]
    assert st.wait_for(lambda e: e[0] == "after")[1:] == (0.25, 0)  # unchanged, no listener added
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        assert _exchange(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        assert sock.recv(100) == b""  # silent: the 0.25 s timeout still in force closes it


def test_a_refused_timeout_attribute_leaves_a_kept_alive_connection_answered(serve):
    """``server.timeout = -1`` between two requests on one connection: refused, and the
    second request is answered (it used to raise at its head, unanswered)."""
    st = _ok_server(serve, lambda server, st: None)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        assert _exchange(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
        codes = st.call(lambda: [_code(lambda: setattr(st.server, "timeout", v)) for v, _ in BAD])
        assert codes == [code for _, code in BAD]
        assert st.call(lambda: st.server.timeout) == 0
        assert _exchange(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 OK")


def test_good_timeouts_are_taken_and_the_option_is_checked_too(serve):
    st = _ok_server(serve, lambda server, st: None)
    assert st.call(lambda: (st.server.set_timeout(2), st.server.timeout)[1]) == 2
    st.call(setattr, st.server, "timeout", 0)
    assert st.call(lambda: st.server.timeout) == 0
    with pytest.raises(ValueError) as info:
        prefork.create_server(timeout=-1)
    assert info.value.code == "ERR_OUT_OF_RANGE"
