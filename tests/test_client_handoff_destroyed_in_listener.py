"""``req.destroy()`` or ``req.abort()`` inside the request's ``connect`` (CONNECT) or
``upgrade`` (101) listener dumps the response that ended at its head, as Node's
``destroy()`` dumps ``req.res``: after the request's ``close`` (and the abort's
``abort``) come the response's ``end`` and ``close``, before the tunnel socket's
``close`` (the socket is destroyed with the request, as in Node). Node's client against
the same raw server."""

import asyncio
import contextlib
import json
import socket
import threading

import pytest

import prefork
from client_recorder import NODE_RECORDER, act, event_log, record_request, record_response
from harness import node_events

ANSWERS = {
    "CONNECT": b"HTTP/1.1 200 Connection Established\r\n\r\nhead",
    "GET": b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nhead",
}
EVENT = {"CONNECT": "connect", "GET": "upgrade"}

NODE_CLIENT = NODE_RECORDER + r"""
const [method, how, agentKind] = %s;
const agent = agentKind === 'none' ? false : agentKind === 'keep-alive' ? new http.Agent({keepAlive: true}) : undefined;
const headers = method === 'GET' ? {Connection: 'Upgrade', Upgrade: 'x'} : {};
const req = http.request({port: %d, host: '127.0.0.1', method, path: method === 'GET' ? '/' : 'x:1', agent, headers});
recordRequest(req);
req.on(method === 'GET' ? 'upgrade' : 'connect', (res, sock, head) => {
  log('handed', res.statusCode, head.toString('latin1'));
  recordResponse(res);
  sock.on('close', () => { log('socket close'); done(); });
  if (how === 'destroy') req.destroy(); else req.abort();
  log('socket destroyed', sock.destroyed);
});
req.end();
"""


@contextlib.contextmanager
def answering(answer):
    """A listener answering every connection's first read with ``answer[0]``, then
    reading until the client leaves; its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.02)  # (how soon the end of the block stops it)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    if conn.recv(65536):
                        conn.sendall(answer[0])
                        while conn.recv(65536):
                            pass
                except OSError:
                    pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture
def raw_server():
    """``answering`` an answer the test sets in ``answer[0]``."""
    answer = [b""]
    with answering(answer) as port:
        yield port, answer


def logged_request(port, method, agent_kind, log):
    """A CONNECT (``x:1``) or an upgrade GET through no agent, the global one or a
    keep-alive one, its 'finish', 'close', 'abort' and 'error' logged."""
    options = {"port": port, "host": "127.0.0.1", "method": method, "path": "/" if method == "GET" else "x:1"}
    if method == "GET":
        options["headers"] = {"Connection": "Upgrade", "Upgrade": "x"}
    if agent_kind == "none":
        options["agent"] = False
    elif agent_kind == "keep-alive":
        options["agent"] = prefork.Agent(keep_alive=True)
    req = prefork.request(options)
    record_request(req, log)
    return req


def prefork_client(port, method, how, agent_kind):
    async def main():
        events, log = event_log()
        over = asyncio.get_running_loop().create_future()
        req = logged_request(port, method, agent_kind, log)

        def handed(res, sock, head):
            log("handed", res.status_code, head.decode("latin-1"))
            record_response(res, log)

            def socket_closed(*args):
                log("socket close")
                over.done() or over.set_result(None)
            sock.on("close", socket_closed)
            req.destroy() if how == "destroy" else req.abort()
            log("socket destroyed", sock.destroyed)
        req.on(EVENT[method], handed)
        req.end()
        await asyncio.wait_for(over, 5)
        await asyncio.sleep(0)  # (anything due on the turns after the socket's close)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("agent_kind", ["none", "global", "keep-alive"])
@pytest.mark.parametrize("how", ["destroy", "abort"])
@pytest.mark.parametrize("method", ["CONNECT", "GET"])
def test_a_request_destroyed_in_its_handoff_listener_ends_and_closes_its_response(raw_server, method, how, agent_kind):
    port, answer = raw_server
    answer[0] = ANSWERS[method]
    theirs = node_events(NODE_CLIENT % (f'["{method}", "{how}", "{agent_kind}"]', port))
    ours = prefork_client(port, method, how, agent_kind)
    assert ours == theirs, (ours, theirs)
    assert ["res", "end"] in ours and ours[-1] == ["socket close"]


# The listener's steps, in order: ``res.destroy``, ``destroy``, ``abort``,
# ``sock.destroy``; ``abort-res-destroy``: the request's ``abort`` listener destroys the
# response. Node gives the response's ``end`` and ``close`` whenever the request was
# destroyed or aborted too (its dump ends the destroyed stream), the ``abort`` before
# them, and the response's ``close`` before the tunnel socket's.
NODE_STEPS = r"""
const one = ([method, steps, agentKind, port]) => new Promise((resolve) => {
  const events = [];
  const log = (...a) => events.push(a);  // (the recorder's functions below log to this case's events)
""" + NODE_RECORDER + r"""
  const agent = agentKind === 'none' ? false : agentKind === 'keep-alive' ? new http.Agent({keepAlive: true}) : undefined;
  const headers = method === 'GET' ? {Connection: 'Upgrade', Upgrade: 'x'} : {};
  const req = http.request({port, host: '127.0.0.1', method, path: method === 'GET' ? '/' : 'x:1', agent, headers});
  recordRequest(req);
  req.on(method === 'GET' ? 'upgrade' : 'connect', (res, sock, head) => {
    log('handed', res.statusCode);
    recordResponse(res);
    if (steps.includes('abort-res-destroy')) req.on('abort', () => { res.destroy(); log('res destroyed in abort'); });
    sock.on('close', () => { log('socket close'); setImmediate(() => resolve(events.slice())); });
    act(steps.filter((s) => s !== 'abort-res-destroy'), req, res, sock);
    log('called', sock.destroyed, req.destroyed);
  });
  req.end();
});
(async () => {
  for (const c of %s) events.push(await one(c));
  done();
})();
"""


def prefork_steps(port, method, steps, agent_kind, read=False):
    async def main():
        events, log = event_log()
        over = asyncio.get_running_loop().create_future()
        handed_res = asyncio.get_running_loop().create_future()
        req = logged_request(port, method, agent_kind, log)

        def handed(res, sock, head):
            log("handed", res.status_code)
            record_response(res, log)
            if "abort-res-destroy" in steps:
                def destroy_response(*args):
                    res.destroy()
                    log("res destroyed in abort")
                req.on("abort", destroy_response)
            sock.on("close", lambda *a: over.done() or over.set_result(None))
            sock.on("close", lambda *a: log("socket close"))
            act([step for step in steps if step != "abort-res-destroy"], req, res, sock)
            log("called", sock.destroyed, req.destroyed)
            handed_res.set_result(res)
        req.on(EVENT[method], handed)
        req.end()
        res = await asyncio.wait_for(handed_res, 5)
        body = await asyncio.wait_for(res.read(), 5) if read else None
        await asyncio.wait_for(over, 5)
        await asyncio.sleep(0)  # (anything due on the turns after the socket's close)
        return events, body
    return asyncio.run(main())


STEPS = [
    ["res.destroy"], ["res.destroy", "abort"], ["abort", "res.destroy"],
    ["res.destroy", "destroy"], ["destroy", "abort"], ["sock.destroy", "abort"],
    ["abort", "abort-res-destroy"], ["destroy", "abort", "abort-res-destroy"],
]


STEP_AGENTS = ["none", "keep-alive"]


@pytest.fixture(scope="module")
def node_steps():
    """Node's events for each of STEPS and STEP_AGENTS, one Node process for all the
    cases of a method, run one after the other (the next once the last one's socket
    closed and a turn passed, as the process's exit did), against its own listener (the
    same answer) closed when that process is over."""
    found = {}

    def events(method, steps, agent_kind):
        if method not in found:
            cases = [(steps, agent_kind) for steps in STEPS for agent_kind in STEP_AGENTS]
            try:
                with answering([ANSWERS[method]]) as port:
                    table = [[method, steps, agent_kind, port] for steps, agent_kind in cases]
                    found[method] = dict(zip(map(repr, cases),
                                             node_events(NODE_STEPS % json.dumps(table), timeout=60)))
            except Exception as exc:  # kept: the method's other cases fail with it, not after a run each
                found[method] = exc
        if isinstance(found[method], Exception):
            raise found[method]
        return found[method][repr((steps, agent_kind))]
    return events


@pytest.mark.parametrize("agent_kind", STEP_AGENTS)
@pytest.mark.parametrize("steps", STEPS, ids="+".join)
@pytest.mark.parametrize("method", ["CONNECT", "GET"])
def test_a_response_destroyed_or_an_abort_after_a_destroy_in_the_handoff_listener_ends_as_nodes(
        raw_server, node_steps, method, steps, agent_kind):
    port, answer = raw_server
    answer[0] = ANSWERS[method]
    theirs = node_steps(method, steps, agent_kind)
    ours, _ = prefork_steps(port, method, steps, agent_kind)
    assert ours == theirs, (ours, theirs)
    assert ["res", "close"] in ours and ours[-1] == ["socket close"]


@pytest.mark.parametrize("steps", [["res.destroy", "abort"], ["abort", "res.destroy"],
                                   ["abort", "abort-res-destroy"]], ids="+".join)
def test_reading_a_response_destroyed_with_its_request_in_the_upgrade_listener_settles(raw_server, steps):
    port, answer = raw_server
    answer[0] = ANSWERS["GET"]
    events, body = prefork_steps(port, "GET", steps, "global", read=True)
    assert body == b"" and ["res", "end"] in events and ["res", "close"] in events
