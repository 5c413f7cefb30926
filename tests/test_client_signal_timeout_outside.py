"""``AbortSignal.timeout(seconds)`` made outside a running loop (at import, before
``asyncio.run()``) still aborts the request that uses it: its timer starts on that
request's loop, as Node's fires wherever it was made (compared with Node's client
against the same raw server). It once went to a loop nobody ran: the request hung.
Its ``seconds`` are checked at once as Node checks the delay (ERR_INVALID_ARG_TYPE,
ERR_OUT_OF_RANGE), not left to fail as a bare TypeError or fire at once."""

import asyncio
import json
import subprocess
import time

import prefork
from harness import need_node
from prefork.client import AbortSignal
from test_hostile_client import RawServer, read_head

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const signal = AbortSignal.timeout(200);
setImmediate(() => {
  const req = http.request({port, host: '127.0.0.1', path: '/', signal, agent: false});
  req.on('error', (e) => console.log(JSON.stringify([e.code, e.name, e.cause.name])));
  req.end();
});
"""


def silent(conn, index):
    read_head(conn)
    while conn.recv(65536):
        pass


def test_a_timeout_signal_made_outside_a_loop_aborts_its_request_as_nodes():
    node = need_node()
    srv = RawServer(silent)
    try:
        got = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port)], capture_output=True, timeout=30,
                             text=True)
        signal = AbortSignal.timeout(0.2)  # no loop runs here
        made = time.monotonic()

        async def main():
            req = prefork.request({"port": srv.port, "host": "127.0.0.1", "path": "/", "signal": signal,
                                   "agent": False})
            answer = req.response()
            req.end()
            try:
                await asyncio.wait_for(answer, 5)
            except Exception as err:
                return [getattr(err, "code", None), type(err).__name__, type(getattr(err, "cause", None)).__name__]
            return ["answered"]

        ours = asyncio.run(main())
        took = time.monotonic() - made
    finally:
        srv.close()
    assert [ours] == [json.loads(line) for line in got.stdout.split()], got.stderr
    assert ours == ["ABORT_ERR", "AbortError", "TimeoutError"]
    assert signal.aborted and took < 4


def test_a_timeout_signal_counts_from_when_it_was_made():
    signal = AbortSignal.timeout(0.05)
    time.sleep(0.1)  # (its time is up before any loop runs)

    async def main():
        loop = asyncio.get_running_loop()
        aborted = loop.create_future()
        signal.on("abort", lambda: aborted.set_result(loop.time()))
        signal.arm(loop)
        started = loop.time()
        return await asyncio.wait_for(aborted, 5) - started

    assert asyncio.run(main()) < 0.05
    assert isinstance(signal.reason, TimeoutError)


NODE_CHECKS = r"""
const out = [];
for (const ms of [-1000, '100', NaN, Infinity, true, 4294968000, null, 0, 1500]) {
  try { AbortSignal.timeout(ms); out.push('ok'); } catch (e) { out.push(e.code); }
}
console.log(JSON.stringify(out));
"""


def test_a_timeout_signals_seconds_are_checked_as_nodes_delay():
    node = need_node()
    got = subprocess.run([node, "-e", NODE_CHECKS], capture_output=True, timeout=30, text=True)
    ours = []
    for seconds in (-1, "100", float("nan"), float("inf"), True, 4294968, None, 0, 1.5):
        try:
            AbortSignal.timeout(seconds)  # (not used: no timer is armed without a loop)
            ours.append("ok")
        except (TypeError, ValueError) as err:
            ours.append(err.code)
    assert ours == json.loads(got.stdout), got.stderr
    assert ours == ["ERR_OUT_OF_RANGE", "ERR_INVALID_ARG_TYPE", "ERR_OUT_OF_RANGE", "ERR_OUT_OF_RANGE",
                    "ERR_INVALID_ARG_TYPE", "ERR_OUT_OF_RANGE", "ERR_INVALID_ARG_TYPE", "ok", "ok"]


def test_a_timeout_signal_whose_loop_closed_before_it_fired_fires_on_the_next_requests():
    answered = []

    def serve(conn, index):
        head = read_head(conn)
        if head and head.startswith(b"GET /quick "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            answered.append(index)
            return
        while conn.recv(65536):
            pass

    srv = RawServer(serve)
    signal = AbortSignal.timeout(0.3)

    async def one(path):
        req = prefork.get({"port": srv.port, "host": "127.0.0.1", "path": path, "signal": signal, "agent": False})
        try:
            res = await asyncio.wait_for(req.response(), 5)
            return (await asyncio.wait_for(res.read(), 5)).decode()
        except Exception as err:
            return getattr(err, "code", repr(err))

    try:
        first = asyncio.run(one("/quick"))  # its loop closes before the signal's time is up
        second = asyncio.run(one("/hang"))
    finally:
        srv.close()
    assert (first, second) == ("ok", "ABORT_ERR")
