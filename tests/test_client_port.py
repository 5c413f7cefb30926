"""A request's port as Node's client takes it: a false one is 80; a whole number
0-65535 or a string of one is used; anything else raises ERR_SOCKET_BAD_PORT at once,
before anything is sent (a port out of range raised inside the loop's callback, and
the request never ended: no ``error``, no ``close``); one neither a number nor a
string raises ERR_INVALID_ARG_TYPE."""

import asyncio
import json

import pytest

import prefork
from harness import NODE, node_events
from test_hostile_client import RawServer, read_head

BAD = [70000, -1, 65536, 65535.5, "abc", "  ", "80x", True, [80], {}]
CODES = ["ERR_SOCKET_BAD_PORT"] * 7 + ["ERR_INVALID_ARG_TYPE"] * 3
NODE_BAD = r"""
for (const port of %s) {
  try { const req = http.get({host: '127.0.0.1', port}); req.on('error', () => {}); req.destroy(); log('no throw'); }
  catch (e) { log(e.code); }
}
done();
"""


def test_a_bad_port_raises_at_once_as_in_node():
    loop = asyncio.new_event_loop()
    try:
        codes = []
        for port in BAD:
            with pytest.raises((ValueError, TypeError)) as caught:
                prefork.get({"host": "127.0.0.1", "port": port}, loop=loop)
            codes.append(caught.value.code)
    finally:
        loop.close()
    assert codes == CODES
    if NODE is not None:
        assert node_events(NODE_BAD % json.dumps(BAD)) == [[code] for code in CODES]


def test_a_port_given_as_a_string_is_the_one_connected_to():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = RawServer(handler)

    async def main():
        results = []
        for port in (f" {srv.port} ", str(srv.port), float(srv.port)):
            req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})
            res = await asyncio.wait_for(req.response(), 5)
            results.append((req.port, await asyncio.wait_for(res.read(), 5)))
        return results
    try:
        assert asyncio.run(main()) == [(srv.port, b"ok")] * 3
    finally:
        srv.close()
