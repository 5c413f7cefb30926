"""``req.abort()`` after the socket went (a ``destroy()`` of a request on a connection
not kept, or ``res.destroy()``) from the response's ``end`` or ``data`` listener: its
``abort`` comes on the next turn, before the response's and the request's ``close``, as
Node's tick does (never after a ``close`` still to come, never inside the call; a kept-alive
exchange whose socket went back to the agent at the ``end`` has its request's ``close``
first, as in Node). Node's
client against the same raw server, with no agent, the global agent and a keep-alive
one, on a connection kept and one the server closes."""

import asyncio

import pytest

import prefork
from client_recorder import NODE_RECORDER, act, event_log, record_request, record_response
from harness import node_events
from test_hostile_client import RawServer, read_head

KEPT = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CLOSED = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"

NODE_CLIENT = NODE_RECORDER + r"""
const [port, agentKind, steps, point] = %s;
const agent = agentKind === 'none' ? false : agentKind === 'keep-alive' ? new http.Agent({keepAlive: true}) : undefined;
const req = http.get({port, host: '127.0.0.1', agent});
recordRequest(req);
req.on('response', (res) => {
  recordResponse(res, true);
  const acted = () => { act(steps, req, res); log('called'); };
  if (point === 'data') res.once('data', acted); else res.on('end', acted);
});
req.on('close', () => setTimeout(done, 50));
"""


def prefork_client(port, agent_kind, steps, point):
    async def main():
        events, log = event_log()
        options = {"port": port, "host": "127.0.0.1"}
        agent = prefork.global_agent
        if agent_kind == "none":
            options["agent"] = agent = False  # (no agent: nothing pooled to close)
        elif agent_kind == "keep-alive":
            options["agent"] = agent = prefork.Agent(keep_alive=True)
        req = prefork.get(options)
        record_request(req, log)

        def on_response(res):
            record_response(res, log, data=True)

            def acted(*args):
                act(steps, req, res)
                log("called")
            if point == "data":
                res.once("data", acted)
            else:
                res.on("end", acted)
        req.on("response", on_response)
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.done() or closed.set_result(None))
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)
        # a socket kept in the pool is closed as Node's exit closes its own: the raw
        # server's thread, still reading for the next request, ends at once
        if agent:
            agent.destroy()
        return events
    return asyncio.run(main())


@pytest.fixture(params=["kept", "closed"])
def server(request):
    answer = KEPT if request.param == "kept" else CLOSED

    def handler(conn, index):
        while read_head(conn):
            conn.sendall(answer)
            if answer is CLOSED:
                return
    srv = RawServer(handler)
    yield srv
    srv.close()


@pytest.mark.parametrize("agent_kind", ["none", "global", "keep-alive"])
@pytest.mark.parametrize("steps,point", [
    (["destroy", "abort"], "end"),
    (["abort"], "end"),
    (["res.destroy", "abort"], "data"),
    (["res.destroy", "abort"], "end"),
])
def test_an_abort_after_the_socket_went_comes_before_the_closes(server, agent_kind, steps, point):
    theirs = node_events(NODE_CLIENT % ([server.port, agent_kind, steps, point],))
    ours = prefork_client(server.port, agent_kind, steps, point)
    assert ours == theirs, (ours, theirs)
    assert ours.index(["called"]) < ours.index(["req", "abort"])
