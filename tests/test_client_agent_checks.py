"""An Agent's numbers are checked as it is made: a ``timeout`` that is not a finite
number >= 0 raises what Node's agent throws (at its first request there:
ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE), and ``max_sockets``, ``max_free_sockets`` and
``keep_alive_initial_delay`` must be numbers (Node coerces a string). Taken as given,
a str failed inside the loop at the first request, which was never sent nor ended."""

import asyncio
import json
import subprocess

import pytest

import prefork
from harness import need_node
from prefork.client import Agent
from test_hostile_client import RawServer, read_head

TIMEOUTS = [('"5"', "5"), ("-1", -1), ("true", True), ("5", 0.005)]

NODE_SCRIPT = r"""
const http = require('http');
const out = [];
for (const timeout of %s) {
  try {
    const agent = new http.Agent({keepAlive: true, timeout});
    const req = http.request({port: 9, agent}); req.on('error', () => {}); req.destroy(); out.push('ok');
  } catch (e) { out.push(e.code); }
}
console.log(JSON.stringify(out));
"""


def test_an_agent_timeout_is_refused_as_node_refuses_it():
    node = need_node()
    out = subprocess.run([node, "-e", NODE_SCRIPT % ("[" + ", ".join(js for js, _ in TIMEOUTS) + "]")],
                         capture_output=True, timeout=30, text=True)
    ours = []
    for _, value in TIMEOUTS:
        try:
            Agent(timeout=value)
            ours.append("ok")
        except (TypeError, ValueError) as err:
            ours.append(err.code)
    assert ours == json.loads(out.stdout), out.stderr
    assert ours[0] == "ERR_INVALID_ARG_TYPE"


@pytest.mark.parametrize("name", ["max_sockets", "max_free_sockets", "keep_alive_initial_delay"])
def test_a_count_that_is_not_a_number_is_refused(name):
    with pytest.raises(TypeError) as info:
        Agent(**{name: "5"})
    assert info.value.code == "ERR_INVALID_ARG_TYPE"


def test_an_agent_with_good_numbers_serves():
    def answer(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = RawServer(answer)
    agent = Agent(timeout=2, max_sockets=2.0, max_free_sockets=1, keep_alive_initial_delay=0.5)
    try:
        async def main():
            res = await asyncio.wait_for(prefork.get({"port": srv.port, "host": "127.0.0.1", "agent": agent}), 10)
            body = await res.read()
            agent.destroy()
            return body
        assert asyncio.run(main()) == b"ok"
    finally:
        srv.close()
