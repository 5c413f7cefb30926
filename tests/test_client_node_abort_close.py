"""``req.abort()`` called inside the request's own ``close`` listener: ``abort`` comes as
Node's (on its next tick: after the listeners of the event being emitted, before the
response's ``close`` that follows the request's), for an agent that pools the socket,
one that closes it (``agent: false``, or a socket limit without keep-alive, whose
socket the agent takes back and closes), and a body cut short. Node's client against
the same raw server."""

import asyncio
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        if head.startswith(b"GET /cut "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
            time.sleep(0.05)
            return  # the close cuts the body short
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


# The events are taken once the request and the response (when it came) have closed,
# the socket too when it was destroyed, and a few loop turns have passed.
NODE_ABORT_IN_CLOSE = r"""
const port = %(port)d, path = '%(path)s', kind = '%(agent)s';
const agent = kind === 'pool' ? new http.Agent({keepAlive: true})
  : kind === 'limit' ? new http.Agent({keepAlive: false, maxSockets: 1}) : false;
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
let sock = null, reqClosed = false, resClosed = false, sockClosed = false, over = false;
const settle = () => {
  if (over || !reqClosed || (req.res && !resClosed) || (sock.destroyed && !sockClosed)) return;
  over = true;
  turns(5, () => { if (agent) agent.destroy(); done(); });
};
const req = http.request({host: '127.0.0.1', port, path, agent});
req.on('socket', (s) => { sock = s; log('socket'); s.on('close', () => { if (!over) log('socket.close'); sockClosed = true; settle(); }); });
req.on('abort', () => log('abort', req.aborted, req.destroyed));
req.on('error', (e) => log('error', e.code));
req.on('close', () => { log('close'); req.abort(); log('aborted'); reqClosed = true; settle(); });
req.on('response', (res) => {
  log('response');
  res.on('data', (d) => log('data', d.toString()));
  res.on('end', () => log('res.end'));
  res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.code));
  res.on('close', () => { log('res.close'); resClosed = true; settle(); });
});
req.end();
"""


def prefork_abort_in_close(port, path, kind):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        log = events.append
        finished = loop.create_future()
        state = {"sock": None, "req": False, "res": False, "sock_closed": False, "over": False}
        agent = (prefork.Agent(keep_alive=True) if kind == "pool"
                 else prefork.Agent(keep_alive=False, max_sockets=1) if kind == "limit" else False)
        req = prefork.request({"host": "127.0.0.1", "port": port, "path": path, "agent": agent})

        async def wind_up():
            for _ in range(5):
                await asyncio.sleep(0)
            if agent:
                agent.destroy()
            finished.set_result(None)

        def settle():
            if state["over"] or not state["req"] or (req.res is not None and not state["res"]) \
                    or (state["sock"].destroyed and not state["sock_closed"]):
                return
            state["over"] = True
            loop.create_task(wind_up())

        def on_socket(s):
            state["sock"] = s
            log(["socket"])

            def on_sock_close(*_):
                if not state["over"]:
                    log(["socket.close"])
                state["sock_closed"] = True
                settle()
            s.on("close", on_sock_close)
        req.on("socket", on_socket)
        req.on("abort", lambda: log(["abort", req.aborted, req.destroyed]))
        req.on("error", lambda e: log(["error", e.code]))

        def on_close():
            log(["close"])
            req.abort()
            log(["aborted"])
            state["req"] = True
            settle()
        req.on("close", on_close)

        def on_response(res):
            log(["response"])
            res.on("data", lambda d: log(["data", d.decode()]))
            res.on("end", lambda: log(["res.end"]))
            res.on("aborted", lambda: log(["res.aborted"]))
            res.on("error", lambda e: log(["res.error", e.code]))

            def on_res_close():
                log(["res.close"])
                state["res"] = True
                settle()
            res.on("close", on_res_close)
        req.on("response", on_response)
        req.end()
        await asyncio.wait_for(finished, 4)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["none", "pool", "limit"])
@pytest.mark.parametrize("path", ["/", "/cut"])
def test_abort_in_the_requests_close_listener_gives_nodes_events(server, path, kind):
    ours = prefork_abort_in_close(server.port, path, kind)
    theirs = node_events(NODE_ABORT_IN_CLOSE % {"port": server.port, "path": path, "agent": kind})
    assert ["abort", True, True] in theirs
    assert ours == theirs
