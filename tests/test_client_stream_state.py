"""The client response's stream state against Node v20's client: ``readable``,
``readable_aborted``, ``errored``, ``closed`` and ``destroyed`` (Node's ``readable``,
``readableAborted``, ``errored``, ``closed``, ``destroyed``) at each of the response's
events (and the request's ``error`` and ``close``), and ``connection`` and ``req``.

A raw socket server answers ``/<n>`` with case n's bytes, then its FIN; Node's client (a
node script) and prefork's run every case one after the other with the same listeners,
logging the state at each event, and the logs must be the same.
"""

import asyncio
import gc
import weakref

import pytest

import prefork
from prefork.http.errors import HTTPError
from case_server import CaseServer, both_events, case_request
from harness import NODE

COMPLETE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
CUT = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"  # then the FIN: cut short

# (the response's bytes, what the application does in its 'response' listener)
CASES = [
    (COMPLETE, "read"),  # a data listener: read fully
    (COMPLETE, "keep"),  # the same on a kept-alive socket (the request's close first)
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "read"),
    (CUT, "read"),  # the connection ends mid-body: aborted
    (CUT, "read-noerr"),  # the same, no 'error' listener on the response
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n", "read"),  # cut between chunks
    (CUT, "destroy"),  # res.destroy()
    (CUT, "destroy-err"),  # res.destroy(err)
    (CUT, "destroy-err-noerr"),
    (COMPLETE, "destroy"),  # destroyed complete but unread
    (COMPLETE, "destroy-err"),
    (COMPLETE, "end-destroy-err"),  # res.destroy(err) in the 'end' listener
    (CUT, "req-destroy"),  # req.destroy(): the request aborts the response
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\nzz\r\n", "unread"),  # a bad chunk, unread
    (COMPLETE, "unread"),  # never read while the socket closes; read a while after
    (CUT, "unread"),  # never read, cut short
]


# (Node's side: NODE_CASES, cases[n] the mode)
NODE_EXCHANGE = r"""
const exchange = (n) => {
  const mode = cases[n];
  const log = (...e) => events.push([n, ...e]);
  const agent = mode === 'keep' ? new http.Agent({ keepAlive: true }) : false;
  const req = http.get({ host: '127.0.0.1', port, path: '/' + n, agent });
  let res = null;
  const st = (at, ...more) => log(at, res && res.readable, res && res.readableAborted,
                                  res && res.errored ? res.errored.code : null, res && res.closed,
                                  res && res.destroyed, res && res.socket === null, ...more);
  let reqClosed = false;
  let resClosed = false;
  let late = mode !== 'unread';  // an unread response is read a while after the request's close
  const next = () => {
    if (reqClosed && resClosed && late) setTimeout(() => { if (agent) agent.destroy(); one(n + 1); }, 0);
  };
  const mine = () => { const e = new Error('mine'); e.code = 'EMINE'; return e; };
  const reader = () => res.on('data', (d) => st('data', d.toString('latin1')));
  req.on('error', (e) => st('req.error', e.code));
  req.on('close', () => {
    st('req.close');
    reqClosed = true;
    if (mode === 'unread') setTimeout(() => { st('later'); late = true; reader(); next(); }, 20);
    next();
  });
  req.on('response', (r) => {
    res = r;
    st('response');
    res.on('end', () => st('end'));
    res.on('aborted', () => st('aborted'));
    if (!mode.endsWith('noerr')) res.on('error', (e) => st('error', e.code, e === res.errored));
    res.on('close', () => { st('close'); resClosed = true; next(); });
    if (['read', 'keep', 'read-noerr', 'req-destroy', 'end-destroy-err'].includes(mode)) reader();
    if (mode === 'destroy') { res.destroy(); st('destroyed'); }
    if (mode.startsWith('destroy-err')) { res.destroy(mine()); st('destroyed'); }
    if (mode === 'end-destroy-err') res.on('end', () => { res.destroy(mine()); st('destroyed'); });
    if (mode === 'req-destroy') { req.destroy(); st('destroyed'); }
  });
};
"""


def _mine():
    return HTTPError("EMINE", "mine")


def _exchange(port, n, log, over):
    """Case n's exchange with the listeners of Node's script; returns the agent's
    ``destroy`` for after the exchange."""
    mode = CASES[n][1]
    agent = prefork.Agent(keep_alive=True) if mode == "keep" else False
    req = case_request(port, n, agent)
    loop = asyncio.get_running_loop()
    state = {"res": None, "req_closed": False, "res_closed": False, "late": mode != "unread"}

    def st(at, *more):
        res = state["res"]
        if res is None:
            log(at, None, None, None, None, None, None, *more)
            return
        log(at, res.readable, res.readable_aborted, res.errored.code if res.errored else None, res.closed,
            res.destroyed, res.socket is None, *more)

    def settle():
        if state["req_closed"] and state["res_closed"] and state["late"]:
            over()

    def reader():
        state["res"].on("data", lambda d: st("data", d.decode("latin-1")))

    def on_close():
        st("req.close")
        state["req_closed"] = True
        if mode == "unread":
            def late():
                st("later")
                state["late"] = True
                reader()
                settle()
            loop.call_later(0.02, late)
        settle()

    def on_res_close():
        st("close")
        state["res_closed"] = True
        settle()

    def on_response(res):
        state["res"] = res
        st("response")
        res.on("end", lambda: st("end"))
        res.on("aborted", lambda: st("aborted"))
        if not mode.endswith("noerr"):
            res.on("error", lambda e: st("error", e.code, e is res.errored))
        res.on("close", on_res_close)
        if mode in ("read", "keep", "read-noerr", "req-destroy", "end-destroy-err"):
            reader()
        if mode == "destroy":
            res.destroy()
            st("destroyed")
        if mode.startswith("destroy-err"):
            res.destroy(_mine())
            st("destroyed")
        if mode == "end-destroy-err":
            def on_end():
                res.destroy(_mine())
                st("destroyed")
            res.on("end", on_end)
        if mode == "req-destroy":
            req.destroy()
            st("destroyed")
    req.on("error", lambda e: st("req.error", e.code))
    req.on("close", on_close)
    req.on("response", on_response)
    req.end()
    return agent.destroy if agent else None


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_stream_state_at_each_event_is_nodes():
    ours, node = both_events(CASES, _exchange, NODE_EXCHANGE, as_json=True)
    assert {e[0] for e in node} == set(range(len(CASES)))
    for n in range(len(CASES)):
        mine = [e for e in ours if e[0] == n]
        theirs = [e for e in node if e[0] == n]
        assert mine == theirs, f"case {n} ({CASES[n][1]}): {CASES[n][0]!r}"


async def _read_whole(port):
    """A coroutine's exchange with case 0: the request, its response and the body, once
    the response's ``close`` came."""
    req = case_request(port, 0)
    req.end()
    res = await asyncio.wait_for(req.response(), 5)
    closed = asyncio.get_running_loop().create_future()
    res.on("close", lambda: closed.done() or closed.set_result(None))
    data = await asyncio.wait_for(res.read(), 5)
    await asyncio.wait_for(closed, 5)
    return req, res, data


def test_connection_is_the_socket_and_req_the_request():
    with CaseServer([(COMPLETE, None)]) as server:
        async def main():
            req, res, data = await _read_whole(server.port)
            assert data == b"hi"
            assert res.socket is not None and res.connection is res.socket
            assert res.req is req and req.res is res
            res.connection = None  # Node's alias sets the socket too
            assert res.socket is None

            # a request the application keeps no reference to: the exchange holds it
            seen = asyncio.get_running_loop().create_future()

            def on_response(res):
                res.resume()
                seen.set_result((res.req, res))
            case_request(server.port, 0).on("response", on_response).end()
            got, res = await asyncio.wait_for(seen, 5)
            assert isinstance(got, prefork.ClientRequest) and got.res is res
        asyncio.run(main())


def test_req_is_a_weak_reference_the_request_is_freed_and_no_cycle_is_left():
    with CaseServer([(COMPLETE, None)]) as server:
        found = {}

        async def main():
            for _ in range(3):
                req, res, data = await _read_whole(server.port)
                assert res.req is req and data == b"hi"
            await asyncio.sleep(0)  # (what the close scheduled has run)
            found["res"] = res
            found["req"] = weakref.ref(req)

        gc.collect()
        gc.disable()
        try:
            asyncio.run(main())
            # freed by reference counting alone (no cycle collection yet): the response
            # does not hold the request, and says so
            assert found["req"]() is None
            assert found["res"].req is None
            del found["res"]
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            left = [type(obj).__qualname__ for obj in gc.garbage if type(obj).__module__.startswith("prefork.")]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert not left, f"objects left in reference cycles: {left}"


BREAK_NODE = r"""
const http = require('http');
const port = +process.argv[1];
const out = [];
let res;
const st = (r) => [r.readable, r.readableAborted, r.errored ? r.errored.code : null, r.closed, r.destroyed];
(async () => {
  const req = http.request({ host: '127.0.0.1', port, path: '/', agent: false });
  for (const ev of ['abort', 'close']) req.on(ev, () => out.push(['req.' + ev, ...st(res)]));
  req.on('error', (e) => out.push(['req.error', e.code, ...st(res)]));
  req.end();
  res = await new Promise((ok) => req.on('response', ok));
  for (const ev of ['aborted', 'end']) res.on(ev, () => out.push([ev, ...st(res)]));
  res.on('error', (e) => out.push(['error', e.code, ...st(res)]));
  const closed = new Promise((ok) => res.on('close', () => { out.push(['close', ...st(res)]); ok(); }));
  for await (const chunk of res) break;  // eslint-disable-line no-unused-vars
  out.push(['after-loop', ...st(res)]);
  await closed;
  console.log(JSON.stringify(out));
  process.exit(0);
})();
"""


def _serve_part_of_a_body():
    """A server that sends the head and part of a body, then holds the connection open
    until the client closes it (so only the client's leaving ends the exchange)."""
    import socket
    import threading
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
            conn.settimeout(10)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return sock


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_leaving_a_for_await_loop_mid_body_aborts_the_request_as_nodes_does():
    """Node's ``for await`` left by ``break`` ends an unfinished response through its
    request (``req.abort()``): ``abort``, ``aborted``, the request's ``close``, the
    response's ``error`` (ECONNRESET) and ``close``, with the state Node has at each."""
    import json
    import subprocess
    sock = _serve_part_of_a_body()
    port = sock.getsockname()[1]
    try:
        node = json.loads(subprocess.run([NODE, "-e", BREAK_NODE, str(port)], capture_output=True, text=True,
                                         timeout=20).stdout)

        async def main():
            out = []
            box = {}

            def st(res):
                return [res.readable, res.readable_aborted, res.errored.code if res.errored else None, res.closed,
                        res.destroyed]
            req = prefork.request({"host": "127.0.0.1", "port": port, "path": "/", "agent": False})
            for ev in ("abort", "close"):
                req.on(ev, lambda *a, ev=ev: out.append(["req." + ev] + st(box["res"])))
            req.on("error", lambda e: out.append(["req.error", e.code] + st(box["res"])))
            req.end()
            res = box["res"] = await asyncio.wait_for(req.response(), 5)
            for ev in ("aborted", "end"):
                res.on(ev, lambda *a, ev=ev: out.append([ev] + st(res)))
            res.on("error", lambda e: out.append(["error", e.code] + st(res)))
            closed = asyncio.get_running_loop().create_future()
            res.on("close", lambda: (out.append(["close"] + st(res)), closed.done() or closed.set_result(None)))
            async for _ in res:
                break
            out.append(["after-loop"] + st(res))
            await asyncio.wait_for(closed, 5)
            return out
        ours = asyncio.run(main())
    finally:
        sock.close()
    assert ours == node
