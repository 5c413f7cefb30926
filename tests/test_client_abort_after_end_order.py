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
from harness import node_events
from test_hostile_client import RawServer, read_head

KEPT = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CLOSED = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"

NODE_CLIENT = r"""
const [port, agentKind, steps, point] = %s;
const agent = agentKind === 'none' ? false : agentKind === 'keep-alive' ? new http.Agent({keepAlive: true}) : undefined;
const req = http.get({port, host: '127.0.0.1', agent});
for (const e of ['finish', 'close', 'abort']) req.on(e, () => log('req', e));
req.on('error', (e) => log('req error', e.code));
req.on('response', (res) => {
  for (const e of ['end', 'close', 'aborted']) res.on(e, () => log('res', e));
  res.on('error', (e) => log('res error', e.code));
  res.on('data', () => log('res data'));
  const act = () => {
    for (const s of steps) { if (s === 'destroy') req.destroy(); else if (s === 'abort') req.abort(); else res.destroy(); }
    log('called');
  };
  if (point === 'data') res.once('data', act); else res.on('end', act);
});
req.on('close', () => setTimeout(done, 50));
"""


def prefork_client(port, agent_kind, steps, point):
    async def main():
        events = []

        def log(*parts):
            events.append(list(parts))
        options = {"port": port, "host": "127.0.0.1"}
        if agent_kind == "none":
            options["agent"] = False
        elif agent_kind == "keep-alive":
            options["agent"] = prefork.Agent(keep_alive=True)
        req = prefork.get(options)
        for name in ("finish", "close", "abort"):
            req.on(name, (lambda name: lambda *a: log("req", name))(name))
        req.on("error", lambda e: log("req error", e.code))

        def on_response(res):
            for name in ("end", "close", "aborted"):
                res.on(name, (lambda name: lambda *a: log("res", name))(name))
            res.on("error", lambda e: log("res error", e.code))
            res.on("data", lambda chunk: log("res data"))

            def act(*args):
                for step in steps:
                    if step == "destroy":
                        req.destroy()
                    elif step == "abort":
                        req.abort()
                    else:
                        res.destroy()
                log("called")
            if point == "data":
                res.once("data", act)
            else:
                res.on("end", act)
        req.on("response", on_response)
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.done() or closed.set_result(None))
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)
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
