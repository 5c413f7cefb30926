"""``abort()``, ``destroy()``, ``destroy(err)`` and ``res.destroy()`` at each stage of an
exchange, kept alive or not: the events and their order as Node's client gives them
against the same raw server. The request's ``close`` is its last event (no ``error``
after it) and marks it ``destroyed``; a body cut short closes the request before its
socket's own ``close`` listeners run."""

import asyncio
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.05)  # the body in two parts: a destroy at the first one is mid-body
        conn.sendall(b"world")


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


# After the request's and the response's close (the response's when it had one), a few
# loop turns pass before the events are taken, so what either client queued then shows.
NODE_STAGES = r"""
const port = %(port)d, stage = '%(stage)s', how = '%(how)s', keepAlive = %(keep_alive)s;
const agent = keepAlive ? new http.Agent({keepAlive: true}) : false;
const req = http.request({host: '127.0.0.1', port, agent, method: 'POST'});
let over = false, resClosed = false, reqClosed = false;
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
const settle = () => {
  if (reqClosed && (resClosed || !req.res || stage === 'response' || stage === 'data'))
    turns(5, () => { if (stage === 'after' && !over) { over = true; act(); return turns(5, finish); } finish(); });
};
const finish = () => { over = true; if (agent) agent.destroy(); done(); };
const act = () => {
  log('act');
  if (how === 'abort') req.abort(); else if (how === 'destroy') req.destroy();
  else if (how === 'destroy(err)') req.destroy(new Error('boom'));
  else if (how === 'res.destroy(err)') req.res.destroy(new Error('boom')); else req.res.destroy();
};
req.on('socket', (s) => { log('socket'); s.on('close', () => { if (!over) log('socket.close'); }); if (stage === 'socket') act(); });
req.on('finish', () => { log('finish'); if (stage === 'finish') act(); });
req.on('abort', () => log('abort'));
req.on('error', (e) => log('error', e.code || e.message));
req.on('close', () => { log('close', req.destroyed); reqClosed = true; settle(); });
req.on('response', (res) => {
  log('response');
  res.on('data', (d) => { log('data', d.toString()); if (stage === 'data') act(); });
  res.on('end', () => { log('res.end'); if (stage === 'end') act(); });
  res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.code || e.message));
  res.on('close', () => { log('res.close'); resClosed = true; if (stage === 'res.close') act(); settle(); });
  if (stage === 'response') act();
});
req.write('abc');
if (stage === 'sync') act();
req.end();
"""


def prefork_stages(port, stage, how, keep_alive):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        state = {"over": False, "res_closed": False, "req_closed": False}
        finished = loop.create_future()
        agent = prefork.Agent() if keep_alive else False
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent, "method": "POST"})

        def act():
            events.append(["act"])
            if how == "abort":
                req.abort()
            elif how == "destroy":
                req.destroy()
            elif how == "destroy(err)":
                req.destroy(Exception("boom"))
            elif how == "res.destroy(err)":
                req.res.destroy(Exception("boom"))
            else:
                req.res.destroy()

        async def turns(n):
            for _ in range(n):
                await asyncio.sleep(0)

        async def wind_up():
            await turns(5)
            if stage == "after":
                act()
                await turns(5)
            state["over"] = True
            finished.set_result(None)

        def settle():
            if state["req_closed"] and (state["res_closed"] or req.res is None or stage in ("response", "data")):
                if not finished.done() and not state.get("winding"):
                    state["winding"] = True
                    loop.create_task(wind_up())

        def on_socket(s):
            events.append(["socket"])
            s.on("close", lambda *a: state["over"] or events.append(["socket.close"]))
            if stage == "socket":
                act()
        req.on("socket", on_socket)
        req.on("finish", lambda: (events.append(["finish"]), stage == "finish" and act()))
        req.on("abort", lambda: events.append(["abort"]))
        req.on("error", lambda e: events.append(["error", getattr(e, "code", None) or str(e)]))

        def on_close():
            events.append(["close", req.destroyed])
            state["req_closed"] = True
            settle()
        req.on("close", on_close)

        def on_response(res):
            events.append(["response"])
            res.on("data", lambda d: (events.append(["data", d.decode()]), stage == "data" and act()))
            res.on("end", lambda: (events.append(["res.end"]), stage == "end" and act()))
            res.on("aborted", lambda: events.append(["res.aborted"]))
            res.on("error", lambda e: events.append(["res.error", getattr(e, "code", None) or str(e)]))

            def on_res_close():
                events.append(["res.close"])
                state["res_closed"] = True
                if stage == "res.close":
                    act()
                settle()
            res.on("close", on_res_close)
            if stage == "response":
                act()
        req.on("response", on_response)
        req.write(b"abc")
        if stage == "sync":
            act()
        req.end()
        await asyncio.wait_for(finished, 4)
        if agent:
            agent.destroy()
        return events
    return asyncio.run(main())


CASES = [
    # not kept alive
    (False, "destroy(err)", "after"),  # nothing after close: the request is destroyed by then
    (False, "destroy", "after"),
    (False, "destroy(err)", "end"),  # the error before the closes
    (False, "destroy(err)", "res.close"),  # the error before the request's close
    (False, "abort", "end"),
    (False, "destroy", "data"),  # mid-body: the request's close before the socket's
    (False, "abort", "response"),
    (False, "res.destroy", "data"),
    (False, "destroy", "sync"),
    (False, "destroy", "finish"),
    (False, "res.destroy(err)", "data"),  # the request's error, then the response's
    (False, "res.destroy(err)", "end"),  # after the end: the response's error before its close
    # kept alive: after the end the socket is the agent's and is left alone
    (True, "abort", "end"),  # close, abort, then the response's close
    (True, "destroy(err)", "end"),
    (True, "destroy", "res.close"),
    (True, "res.destroy", "end"),
    (True, "destroy(err)", "data"),
    (True, "abort", "socket"),
    (True, "res.destroy(err)", "end"),
]


@pytest.mark.parametrize("keep_alive,how,stage", CASES)
def test_ending_a_request_at_each_stage_gives_nodes_events(server, keep_alive, how, stage):
    ours = prefork_stages(server.port, stage, how, keep_alive)
    theirs = node_events(NODE_STAGES % {"port": server.port, "stage": stage, "how": how,
                                        "keep_alive": "true" if keep_alive else "false"})
    closes = [e for e in theirs if e[0] == "close"]
    assert closes and closes[0][1] is True  # Node: destroyed at close
    assert ours == theirs
