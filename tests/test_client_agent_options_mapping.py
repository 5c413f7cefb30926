"""``Agent`` given its options as one mapping, as Node's ``new http.Agent({...})`` and
as ``prefork.request`` takes them: the names are its keyword arguments'. It took the
mapping for ``keep_alive`` and silently dropped the rest (``max_sockets`` too: every
request got a socket of its own); an unknown name is a TypeError."""

import asyncio

import pytest

import prefork
from test_hostile_client import RawServer, read_head


def test_an_agent_takes_its_options_as_one_mapping():
    agent = prefork.Agent({"keep_alive": False, "max_sockets": 1, "scheduling": "fifo"})
    assert (agent.keep_alive, agent.max_sockets, agent.scheduling) == (False, 1, "fifo")
    with pytest.raises(TypeError):
        prefork.Agent({"maxSockets": 1})


def test_a_subclass_taking_a_mapping_and_its_own_arguments_is_made_once():
    # (Node's pattern: class X extends Agent { constructor(options, label) { super(options) } })
    class Labelled(prefork.Agent):
        def __init__(self, options, label):
            super().__init__(options)
            self.label = label
    agent = Labelled({"max_sockets": 3, "keep_alive": False}, "l")
    assert (agent.max_sockets, agent.keep_alive, agent.label) == (3, False, "l")


def test_an_argument_given_beside_the_mapping_is_taken_too():
    agent = prefork.Agent({"max_sockets": 2}, timeout=5)
    assert (agent.max_sockets, agent.timeout) == (2, 5)


def test_max_sockets_given_in_a_mapping_keeps_requests_in_line():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = RawServer(handler)

    async def main():
        agent = prefork.Agent({"keep_alive": True, "max_sockets": 1})
        reqs = [prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent}) for _ in range(3)]
        await asyncio.sleep(0)  # (the agent takes them on the turn after they are made)
        waiting = [len(line) for line in agent.requests.values()]
        for req in reqs:
            res = await asyncio.wait_for(req.response(), 4)
            await asyncio.wait_for(res.read(), 4)
        agent.destroy()
        return waiting
    try:
        assert asyncio.run(main()) == [2]
        assert srv.accepted == 1
    finally:
        srv.close()
