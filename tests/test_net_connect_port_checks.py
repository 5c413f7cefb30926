"""``Socket.connect`` checks its port as Node 20's ``net.connect``: a whole number 0-65535
or a string of one; another number or string is ERR_SOCKET_BAD_PORT (a ValueError),
another type ERR_INVALID_ARG_TYPE (a TypeError), raised at the call, before a system
socket is made. prefork raised Python's OverflowError or TypeError from its connect,
with no code, and left the system socket it had made for the collector.

Node's answers for the same ports (connecting to a closed port: a port taken is
ECONNREFUSED in both)."""

import asyncio
import gc
import json
import socket
import subprocess
import sys
import warnings

from daemon import python_env
from harness import need_node
from prefork.net import Socket

PORTS = {"big": 70000, "negative": -1, "fraction": 1.5, "none": None, "word": "http", "blank": " ",
         "list": [80], "bool": True}
NODE_PORTS = "{big: 70000, negative: -1, fraction: 1.5, none: null, word: 'http', blank: ' ', list: [80], bool: true}"


def node_codes(closed):
    script = (f"const net = require('net'); const out = {{}}; const p = {NODE_PORTS};"
              f"p.digits = '{closed}';"
              "for (const k in p) { try { const s = net.connect({port: p[k], host: '127.0.0.1'}); s.on('error', () => {});"
              "  out[k] = 'ok'; s.destroy(); } catch (e) { out[k] = e.code; } }"
              "console.log(JSON.stringify(out));")
    return json.loads(subprocess.run([need_node(), "-e", script], capture_output=True, text=True, timeout=20,
                                     check=True).stdout)


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prefork_codes(closed):
    async def main():
        loop = asyncio.get_running_loop()
        out = {}
        for key, port in {**PORTS, "digits": str(closed)}.items():
            try:
                s = Socket.connect(loop, "127.0.0.1", port)
            except (TypeError, ValueError) as exc:
                out[key] = getattr(exc, "code", repr(exc))
                continue
            failed = loop.create_future()
            s.on("error", lambda err: failed.done() or failed.set_result(err.code))
            out[key] = "ok" if await asyncio.wait_for(failed, 5) == "ECONNREFUSED" else "?"
        return out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        out = asyncio.run(main())
        gc.collect()
    return out, [str(w.message) for w in caught
                 if issubclass(w.category, ResourceWarning) and "unclosed <socket" in str(w.message)]


def prefork_codes_alone(closed):
    """``prefork_codes`` in a fresh interpreter: the sockets an earlier test of this
    process left for the collector (freed by its ``gc.collect()``, or by a thread of
    theirs meanwhile) are not told as this test's."""
    script = ("import json, test_net_connect_port_checks as t; "
              f"print(json.dumps(t.prefork_codes({closed})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=python_env())
    assert done.returncode == 0, done.stderr
    out, unclosed = json.loads(done.stdout)
    return out, unclosed


def test_a_bad_port_raises_nodes_error_at_the_call_and_leaves_no_socket():
    closed = closed_port()
    out, unclosed = prefork_codes_alone(closed)
    assert out == node_codes(closed) == {
        "big": "ERR_SOCKET_BAD_PORT", "negative": "ERR_SOCKET_BAD_PORT", "fraction": "ERR_SOCKET_BAD_PORT",
        "none": "ERR_INVALID_ARG_TYPE", "word": "ERR_SOCKET_BAD_PORT", "blank": "ERR_SOCKET_BAD_PORT",
        "list": "ERR_INVALID_ARG_TYPE", "bool": "ERR_INVALID_ARG_TYPE", "digits": "ok"}
    assert unclosed == []
