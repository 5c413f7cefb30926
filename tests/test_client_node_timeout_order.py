"""The socket's idle timeout while a response's body is arriving, in Node 20's order:
the request's ``timeout`` (its ``set_timeout`` callback, or the ``timeout`` option),
then the socket's ``timeout`` listeners the application added before the response
began, then the response's ``timeout`` (Node's responseOnTimeout, a socket listener
added as the response begins), then those added at ``response`` or later. prefork
told the response before any of the socket's own listeners.

Node's client against the same raw server, which sends part of a body and holds."""

import asyncio
import json
import threading

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

CASES = [
    {"opt": 150, "destroy": "req"},
    {"set": 150, "destroy": "req"},
    {"opt": 2000, "set": 150, "destroy": "req"},
    {"opt": 150, "destroy": "res"},
    {"resset": 150, "destroy": "res"},
    {"opt": 150, "late": True, "destroy": "req"},
]

NODE_TIMEOUTS = r"""
const v = %s;
const opts = {host: '127.0.0.1', port: %d, agent: false};
if (v.opt) opts.timeout = v.opt;
const req = http.get(opts);
if (v.set) req.setTimeout(v.set, () => log('set cb'));
req.on('timeout', () => { log('req timeout'); if (v.destroy === 'req') req.destroy(); });
req.on('socket', (s) => { if (!v.late) s.on('timeout', () => log('sock timeout')); });
req.on('error', (e) => log('error', e.code));
req.on('response', (res) => {
  log('response');
  if (v.late) res.socket.on('timeout', () => log('sock timeout'));
  res.on('data', (d) => log('data', d.toString()));
  res.on('timeout', () => { log('res timeout'); if (v.destroy === 'res') res.destroy(); });
  res.on('aborted', () => log('aborted'));
  res.on('close', () => log('res close'));
  if (v.resset) res.setTimeout(v.resset, () => log('res set cb'));
});
req.on('close', () => { log('close'); setTimeout(done, 20); });
"""


def prefork_timeouts(v, port):
    events = []
    log = lambda *e: events.append(list(e))  # noqa: E731

    async def main():
        loop = asyncio.get_running_loop()
        over = loop.create_future()
        opts = {"host": "127.0.0.1", "port": port, "agent": False}
        if v.get("opt"):
            opts["timeout"] = v["opt"] / 1000
        req = prefork.get(opts)
        if v.get("set"):
            req.set_timeout(v["set"] / 1000, lambda: log("set cb"))

        def on_timeout():
            log("req timeout")
            if v["destroy"] == "req":
                req.destroy()
        req.on("timeout", on_timeout)
        if not v.get("late"):
            req.on("socket", lambda s: s.on("timeout", lambda: log("sock timeout")))
        req.on("error", lambda e: log("error", e.code))

        def on_response(res):
            log("response")
            if v.get("late"):
                res.socket.on("timeout", lambda: log("sock timeout"))
            res.on("data", lambda d: log("data", d.decode()))

            def on_res_timeout():
                log("res timeout")
                if v["destroy"] == "res":
                    res.destroy()
            res.on("timeout", on_res_timeout)
            res.on("aborted", lambda: log("aborted"))
            res.on("close", lambda: log("res close"))
            if v.get("resset"):
                res.set_timeout(v["resset"] / 1000, lambda: log("res set cb"))
        req.on("response", on_response)
        req.on("close", lambda: (log("close"), loop.call_soon(lambda: over.done() or over.set_result(None))))
        await asyncio.wait_for(over, 5)
        await asyncio.sleep(0)  # (the response's close, when it comes after the request's)
        await asyncio.sleep(0)
    asyncio.run(main())
    return events


@pytest.fixture
def server():
    stop = threading.Event()

    def handler(conn, index):
        if read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
            stop.wait(5)
    srv = RawServer(handler)
    yield srv
    stop.set()
    srv.close()


@pytest.mark.parametrize("case", CASES, ids=lambda v: ",".join(f"{k}={v[k]}" for k in v))
def test_a_timeout_during_the_body_is_told_in_node_order(server, case):
    ours = prefork_timeouts(case, server.port)
    assert ours.index(["sock timeout"]) < ours.index(["res timeout"]) or case.get("late")
    assert ours == node_events(NODE_TIMEOUTS % (json.dumps(case), server.port))
