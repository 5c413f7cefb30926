"""``req.set_timeout`` and ``res.set_timeout`` check their seconds as Node's socket does
(``getTimerDuration``): not a number is ERR_INVALID_ARG_TYPE, a negative, NaN or infinite
one ERR_OUT_OF_RANGE, raised at the call with nothing changed. They used to take any
value: NaN fired the response's ``timeout`` at once and disordered the loop's timers
(of every connection), -1 turned the timeout off, a str failed with an unrelated
"can only concatenate str" TypeError.

The same program on Node v20.20 (it prints what the first test asserts):

    const http = require('http');
    const server = http.createServer((req, res) => {
      const t = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      for (const v of ['abc', true, -1, NaN, Infinity, 0, 250])
        console.log(v, t(() => res.setTimeout(v)), t(() => req.setTimeout(v)));
      res.end(); server.close();
    });
    server.listen(0, () => http.get({port: server.address().port}, (r) => r.resume()));
    // abc ERR_INVALID_ARG_TYPE ERR_INVALID_ARG_TYPE, true the same,
    // -1 / NaN / Infinity ERR_OUT_OF_RANGE ERR_OUT_OF_RANGE, 0 ok ok, 250 ok ok
"""

import math
import socket
import time

VALUES = ["abc", True, -1, math.nan, math.inf, 0, 0.25]
EXPECTED = [("ERR_INVALID_ARG_TYPE",) * 2] * 2 + [("ERR_OUT_OF_RANGE",) * 2] * 3 + [("ok", "ok")] * 2


def _try(call):
    try:
        call()
        return "ok"
    except Exception as exc:  # the code is what is compared
        return getattr(exc, "code", repr(exc))


def _request(port, data=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


def test_bad_seconds_raise_node_codes_on_the_request_and_the_response(serve):
    def setup(server, st):
        def on_request(req, res):
            st.record("codes", [(_try(lambda: res.set_timeout(v)), _try(lambda: req.set_timeout(v)))
                                for v in VALUES])
            res.end()
        server.on("request", on_request)

    st = serve(setup)
    with _request(st.port) as sock:
        assert sock.recv(1000).startswith(b"HTTP/1.1 200 OK")
    assert st.wait_for(lambda e: e[0] == "codes")[1] == EXPECTED


def test_a_nan_timeout_neither_fires_at_once_nor_disorders_the_loops_timers(serve):
    """The refused NaN leaves no timer: the response's ``timeout`` listener is not
    called, and three timers of the loop fire in their order."""
    def setup(server, st):
        def on_request(req, res):
            st.record("set", _try(lambda: res.set_timeout(math.nan, lambda *a: st.record("timeout"))))
            for delay in (0.05, 0.1, 0.2):
                server.loop.call_later(delay, st.record, "timer", delay)
        server.on("request", on_request)

    st = serve(setup)
    with _request(st.port):
        assert st.wait_for(lambda e: e[0] == "set")[1] == "ERR_OUT_OF_RANGE"
        st.wait_for(lambda e: e == ("timer", 0.2))
        assert [e for e in st.events if e[0] in ("timer", "timeout")] == [
            ("timer", 0.05), ("timer", 0.1), ("timer", 0.2)]


def test_a_negative_timeout_does_not_turn_off_the_one_already_set(serve):
    """``res.set_timeout(0.2)``, then a refused ``res.set_timeout(-1)``: the 0.2 s one
    still fires (-1 used to turn it off)."""
    def setup(server, st):
        def on_request(req, res):
            res.set_timeout(0.2, lambda *a: (st.record("timeout"), res.end("late")))
            st.record("set", _try(lambda: res.set_timeout(-1)))
        server.on("request", on_request)

    st = serve(setup)
    started = time.monotonic()
    with _request(st.port) as sock:
        assert st.wait_for(lambda e: e[0] == "set")[1] == "ERR_OUT_OF_RANGE"
        st.wait_for(lambda e: e == ("timeout",), timeout=3)
        assert time.monotonic() - started < 3
        assert sock.recv(1000).endswith(b"\r\n\r\nlate")


def test_a_valid_request_timeout_still_fires_its_listener(serve):
    def setup(server, st):
        def on_request(req, res):
            req.set_timeout(0.2, lambda *a: (st.record("timeout"), res.end("late")))
        server.on("request", on_request)

    st = serve(setup)
    with _request(st.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab") as sock:
        st.wait_for(lambda e: e == ("timeout",), timeout=3)
        assert sock.recv(1000).endswith(b"\r\n\r\nlate")
