"""A socket's ``set_timeout`` checks its seconds as Node 20's ``socket.setTimeout``
(``getTimerDuration``): not a number is ERR_INVALID_ARG_TYPE, a negative, NaN or
infinite one ERR_OUT_OF_RANGE, raised before anything changes; past Node's limit
(2**31 - 1 ms) the limit, with a warning. prefork took NaN (its ``timeout`` fired at
once, the loop's other timers out of order), -1 and infinity silently.

``set_keep_alive`` takes any initial delay, as Node's ``setKeepAlive`` does: one past the
kernel's TCP_KEEPIDLE limit (32767 s) is that limit. An agent's
``keep_alive_initial_delay`` of 1e10 or infinity made every request of the agent fail (its
``connect`` listener raised on the conversion), where Node's agent serves."""

import asyncio
import json
import math
import os
import socket
import subprocess
import threading
import time
import warnings

import pytest

import prefork
from harness import need_node
from prefork.net import Socket

VALUES = {"nan": math.nan, "-1": -1, "inf": math.inf, "-inf": -math.inf, "str": "5", "null": None, "true": True}
NODE_VALUES = "{nan: NaN, '-1': -1, inf: Infinity, '-inf': -Infinity, str: '5', null: null, true: true}"


def node_codes():
    script = (f"const net = require('net'); const out = {{}}; const v = {NODE_VALUES};"
              "for (const k in v) { try { new net.Socket().setTimeout(v[k]); out[k] = 'ok'; }"
              "catch (e) { out[k] = e.code; } } console.log(JSON.stringify(out));")
    return json.loads(subprocess.run([need_node(), "-e", script], capture_output=True, text=True, timeout=20,
                                     check=True).stdout)


def prefork_codes():
    async def main():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        s = Socket(loop, a)
        s.set_timeout(5)
        heard = []
        out = {}
        for key, value in VALUES.items():
            try:
                s.set_timeout(value, lambda: heard.append("callback"))
                out[key] = "ok"
            except (TypeError, ValueError) as exc:
                out[key] = exc.code
            assert s.timeout == 5.0  # nothing changed
        assert s.listener_count("timeout") == 0  # nor was the callback added
        s.destroy()
        b.close()
        return out
    return asyncio.run(main())


def test_a_socket_timeout_that_is_no_finite_number_of_seconds_is_refused_as_node_refuses_it():
    assert prefork_codes() == node_codes() == {
        "nan": "ERR_OUT_OF_RANGE", "-1": "ERR_OUT_OF_RANGE", "inf": "ERR_OUT_OF_RANGE", "-inf": "ERR_OUT_OF_RANGE",
        "str": "ERR_INVALID_ARG_TYPE", "null": "ERR_INVALID_ARG_TYPE", "true": "ERR_INVALID_ARG_TYPE"}


def test_a_nan_socket_timeout_neither_fires_at_once_nor_disorders_the_loops_timers():
    async def main():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        s = Socket(loop, a)
        order = []
        s.on("timeout", lambda: order.append("socket timeout"))
        with pytest.raises(ValueError):
            s.set_timeout(math.nan)
        over = loop.create_future()
        for delay in (0.05, 0.1, 0.2):
            loop.call_later(delay, lambda d=delay: order.append(d))
        loop.call_later(0.25, over.set_result, None)
        await over
        s.destroy()
        b.close()
        return order
    assert asyncio.run(main()) == [0.05, 0.1, 0.2]


def test_a_socket_timeout_past_nodes_limit_is_that_limit_with_a_warning_and_a_common_one_is_kept():
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        s = Socket(asyncio.get_running_loop(), a)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s.set_timeout(2 ** 31)
        limit = s.timeout
        s.set_timeout(3)
        common = s.timeout
        s.set_timeout(0.5)
        half = s.timeout
        s.set_timeout(0)
        off = s.timeout
        s.destroy()
        b.close()
        return limit, [str(w.message) for w in caught], common, half, off
    limit, caught, common, half, off = asyncio.run(main())
    assert limit == (2 ** 31 - 1) / 1000
    assert len(caught) == 1 and "TimeoutOverflowWarning" in caught[0]
    assert (common, half, off) == (3.0, 0.5, 0.0)


def http_server(reply=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"):
    """A raw server on a thread answering each connection's first read with ``reply``
    (keep-alive by default): (port, close)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    conns = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conns.append(conn)
            try:
                conn.recv(65536)
                conn.sendall(reply)
            except OSError:  # (closed under it by close(): the test is over)
                return
    threading.Thread(target=serve, daemon=True).start()

    def close():
        srv.close()
        for conn in conns:
            conn.close()
    return srv.getsockname()[1], close


def system_keep_alive_idle():
    with open("/proc/sys/net/ipv4/tcp_keepalive_time") as fh:
        return int(fh.read())


@pytest.mark.parametrize("delay", [1e10, 2.0 ** 31, math.inf, math.nan])
def test_an_agent_with_a_keep_alive_delay_past_the_kernels_limit_serves_with_that_limit(delay):
    """(NaN: the system's default, as Node's ``~~(NaN / 1000)`` is 0; it was 1 s.)"""
    port, close = http_server()

    async def main():
        agent = prefork.Agent({"keep_alive": True, "keep_alive_initial_delay": delay})
        over = asyncio.get_running_loop().create_future()
        got = []
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent})
        req.on("response", lambda res: (got.append(res.status_code), res.resume(),
                                        res.on("end", lambda: over.set_result(None))))
        req.on("error", lambda err: (got.append(repr(err)), over.done() or over.set_result(None)))
        await asyncio.wait_for(over, 5)
        with socket.socket(fileno=os.dup(req.socket.fileno())) as s:  # (a copy of its descriptor)
            idle = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
            kept = s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        agent.destroy()
        return got, idle, kept
    try:
        got, idle, kept = asyncio.run(main())
    finally:
        close()
    assert got == [200]
    assert (idle, kept) == (system_keep_alive_idle() if delay != delay else 32767, 1)


def test_set_keep_alive_takes_any_delay_as_node_does():
    async def main():
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        a = socket.create_connection(srv.getsockname())
        a.setblocking(False)
        peer, _ = srv.accept()
        s = Socket(asyncio.get_running_loop(), a)
        idles = []
        for delay in (math.inf, 1e10, 40000, 30, math.nan, -5, None, "7"):
            s.set_keep_alive(True, delay)
            idles.append(a.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
        s.destroy()
        peer.close()
        srv.close()
        return idles
    started = time.monotonic()
    assert asyncio.run(main()) == [32767, 32767, 32767, 30, 30, 30, 30, 30]  # (the others leave it)
    assert time.monotonic() - started < 5
