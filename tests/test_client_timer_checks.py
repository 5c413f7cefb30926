"""A client timeout (the ``timeout`` option, ``req.set_timeout``, ``res.set_timeout``)
and the ``agent`` option are checked at once, as Node's ``http.request`` throws: a
timeout that is not a number is ERR_INVALID_ARG_TYPE, a negative, NaN, infinite or
too large one ERR_OUT_OF_RANGE; an agent that is not Agent-like (no ``add_request``),
None or False is ERR_INVALID_ARG_TYPE. (A str timeout was taken, failed inside the
loop with a traceback, and the request was never sent nor ended: an awaiter hung.)
The codes are compared with Node's for the same values."""

import asyncio
import json
import math
import subprocess

import pytest

import prefork
from harness import need_node
from test_hostile_client import RawServer, read_head

# (JSON for Node, the Python value); seconds here where Node takes milliseconds
TIMEOUTS = [('"5"', "5"), ("-1", -1), ("true", True), ("NaN", math.nan), ("Infinity", math.inf),
            ("2147483648", 2147483.648), ("5", 0.005), ("0", 0)]
AGENTS = [("{}", {}), ('"x"', "x"), ("5", 5), ("true", True)]

NODE_SCRIPT = r"""
const http = require('http');
const out = [];
const code = (f) => { try { const r = f(); r.on('error', () => {}); r.destroy(); return 'ok'; } catch (e) { return e.code; } };
for (const v of %s) {
  out.push(['option', code(() => http.request({port: 9, timeout: v}))]);
  const r = http.request({port: 9}); r.on('error', () => {});
  out.push(['set', code(() => r.setTimeout(v))]); r.destroy();
}
for (const v of %s) out.push(['agent', code(() => http.request({port: 9, agent: v}))]);
console.log(JSON.stringify(out));
"""


def code(make, then=None):
    try:
        req = make()
    except (TypeError, ValueError) as err:
        return err.code
    req.on("error", lambda e: None)
    try:
        if then is not None:
            then(req)
    except (TypeError, ValueError) as err:
        return err.code
    finally:
        req.destroy()
    return "ok"


def prefork_codes():
    out = []

    async def main():
        for _, value in TIMEOUTS:
            out.append(["option", code(lambda: prefork.request({"port": 9, "timeout": value}))])
            out.append(["set", code(lambda: prefork.request({"port": 9}), lambda req: req.set_timeout(value))])
        for _, value in AGENTS:
            out.append(["agent", code(lambda: prefork.request({"port": 9, "agent": value}))])
        await asyncio.sleep(0)
    asyncio.run(main())
    return out


def test_timeouts_and_agents_are_checked_as_node_checks_them():
    node = need_node()
    script = NODE_SCRIPT % ("[" + ", ".join(js for js, _ in TIMEOUTS) + "]", "[" + ", ".join(js for js, _ in AGENTS) + "]")
    out = subprocess.run([node, "-e", script], capture_output=True, timeout=30, text=True)
    ours = prefork_codes()
    assert ours == json.loads(out.stdout), out.stderr
    assert ours[0] == ["option", "ERR_INVALID_ARG_TYPE"]


def test_a_bad_response_timeout_raises_and_a_good_request_goes_on():
    def answer(conn, index):
        if read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    srv = RawServer(answer)
    try:
        async def main():
            req = prefork.request({"port": srv.port, "host": "127.0.0.1", "path": "/", "agent": False,
                                   "timeout": 5})
            req.end()
            res = await asyncio.wait_for(req, 10)
            for bad, kind in (("5", TypeError), (-1, ValueError)):
                with pytest.raises(kind):
                    res.set_timeout(bad, lambda: None)
            assert res.listener_count("timeout") == 0
            return await res.read()
        assert asyncio.run(main()) == b"ok"
    finally:
        srv.close()
