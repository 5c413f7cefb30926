"""``res.destroy()``, ``req.destroy()`` and ``req.abort()`` in the ``response`` listener
(or a ``data`` listener) while the rest of the body is in the same read as the head:
Node's parser still completes a whole body then, so the response ends (``end`` after
``aborted``; an ``abort()``'s ``abort`` before the ``end``), and the request's
``destroy()`` drops the body's ``data`` listeners (Node's ``_dump``); a body cut short
gives no ``end`` (nor does a destroy with an error). A response resumed and paused in
the listener still ends (Node's due resume finds the end). A ``res.destroy()`` in a
``data`` listener ends the body the same way (its later chunks dropped: no ``data``
after ``aborted``, our documented choice), and a ``read()`` of a body destroyed before
it was whole raises ECONNRESET "aborted" whatever the order of the two calls. Node's client against the same raw server, Content-Length and
chunked, whole and cut short, with no agent and a keep-alive one."""

import asyncio
import json

import pytest

import prefork
from client_recorder import NODE_RECORDER, act, event_log, record_request, record_response
from harness import node_events
from prefork.http.errors import Aborted
from test_hostile_client import RawServer, read_head

ANSWERS = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
    "length-short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
    "chunked-short": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
}

NODE_CLIENTS = r"""
const one = ([port, agentKind, steps, point]) => new Promise((resolve) => {
  const events = [];
  const log = (...a) => events.push(a);  // (the recorder's functions below log to this case's events)
""" + NODE_RECORDER + r"""
  const agent = agentKind === 'none' ? false : new http.Agent({keepAlive: true});
  const req = http.get({port, host: '127.0.0.1', agent});
  recordRequest(req);
  req.on('response', (res) => {
    recordResponse(res, 'text');
    const acted = () => { act(steps, req, res); log('called'); };
    if (point === 'data') res.once('data', acted); else acted();
  });
  req.on('close', () => setTimeout(() => resolve(events.slice()), 50));
});
(async () => {
  for (const c of %s) events.push(await one(c));
  done();
})();
"""

AGENT_KINDS = ["none", "keep-alive"]
IN_RESPONSE = [["res.destroy"], ["res.destroy", "abort"], ["abort"], ["destroy", "abort"], ["destroy"],
               ["pause", "res.destroy"]]
REQUEST_IN_DATA = [["abort"], ["destroy", "abort"], ["destroy"]]
RESPONSE_IN_DATA = [["res.destroy"], ["res.destroy", "abort"], ["abort", "res.destroy"],
                    ["res.destroy", "destroy"], ["destroy", "res.destroy"],
                    ["res.destroy", "pause"], ["res.destroy.error"]]
CASES = [(agent_kind, steps, point) for agent_kind in AGENT_KINDS
         for steps, point in [(steps, "response") for steps in IN_RESPONSE]
         + [(steps, "data") for steps in REQUEST_IN_DATA + RESPONSE_IN_DATA]]


def serve_answer(kind):
    """A raw server answering each request on a connection with ``ANSWERS[kind]``."""
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(ANSWERS[kind])
    srv = RawServer(handler)
    srv.kind = kind
    return srv


@pytest.fixture(scope="module")
def node_clients():
    """Node's events for each of CASES against each answer, one Node process for all the
    cases of an answer, run one after the other (each on an agent of its own, the next
    once the last one's request closed and 50 ms passed, as the process's exit did), its
    own raw server (the same answers) closed when that process is over."""
    found = {}

    def events(kind, agent_kind, steps, point):
        if kind not in found:
            srv = serve_answer(kind)
            try:
                table = [[srv.port, *case] for case in CASES]
                found[kind] = dict(zip((repr(case) for case in CASES),
                                       node_events(NODE_CLIENTS % json.dumps(table), timeout=60)))
            except Exception as exc:  # kept: the answer's other cases fail with it, not after a run each
                found[kind] = exc
            finally:
                srv.close()
        if isinstance(found[kind], Exception):
            raise found[kind]
        return found[kind][repr((agent_kind, steps, point))]
    return events


def prefork_client(port, agent_kind, steps, point):
    async def main():
        events, log = event_log()
        options = {"port": port, "host": "127.0.0.1"}
        options["agent"] = False if agent_kind == "none" else prefork.Agent(keep_alive=True)
        req = prefork.get(options)
        record_request(req, log)

        def on_response(res):
            record_response(res, log, data="text")

            def acted(*args):
                act(steps, req, res)
                log("called")
            if point == "data":
                res.once("data", acted)
            else:
                acted()
        req.on("response", on_response)
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.done() or closed.set_result(None))
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)
        return events
    return asyncio.run(main())


@pytest.fixture(params=sorted(ANSWERS))
def server(request):
    srv = serve_answer(request.param)
    yield srv
    srv.close()


@pytest.mark.parametrize("agent_kind", AGENT_KINDS)
@pytest.mark.parametrize("steps", IN_RESPONSE)
def test_a_destroy_in_the_response_listener_ends_a_body_the_same_read_completes(
        server, node_clients, agent_kind, steps):
    theirs = node_clients(server.kind, agent_kind, steps, "response")
    ours = prefork_client(server.port, agent_kind, steps, "response")
    assert ours == theirs, (ours, theirs)
    assert (["res", "end"] in ours) == (not server.kind.endswith("short"))


@pytest.mark.parametrize("agent_kind", AGENT_KINDS)
@pytest.mark.parametrize("steps", REQUEST_IN_DATA)
def test_a_request_destroyed_in_a_data_listener_drops_the_rest_of_the_body_data(
        server, node_clients, agent_kind, steps):
    theirs = node_clients(server.kind, agent_kind, steps, "data")
    ours = prefork_client(server.port, agent_kind, steps, "data")
    assert ours == theirs, (ours, theirs)


def without_data_after_aborted(events):
    """Node's events less the ``data`` it still emits after ``aborted`` (we drop the
    rest of a destroyed body: docs/node-compat.md)."""
    if ["res", "aborted"] not in events:
        return events
    cut = events.index(["res", "aborted"])
    return events[:cut] + [e for e in events[cut:] if e[0] != "res data"]


@pytest.mark.parametrize("agent_kind", AGENT_KINDS)
@pytest.mark.parametrize("steps", RESPONSE_IN_DATA)
def test_a_response_destroyed_in_its_first_data_listener_ends_as_nodes_does(
        server, node_clients, agent_kind, steps):
    theirs = without_data_after_aborted(node_clients(server.kind, agent_kind, steps, "data"))
    ours = prefork_client(server.port, agent_kind, steps, "data")
    assert ours == theirs, (ours, theirs)


def read_after(port, order):
    """What ``await res.read()`` gives when ``read()`` and ``res.destroy()`` are called
    in ``order`` in the ``response`` listener (``data-destroy``: in the first ``data``
    listener)."""
    async def main():
        req = prefork.get({"port": port, "host": "127.0.0.1", "agent": False})
        got = asyncio.get_running_loop().create_future()

        def on_response(res):
            future = None
            for step in order:
                if step == "read":
                    future = res.read()
                elif step == "data-destroy":
                    res.once("data", lambda chunk: res.destroy())
                else:
                    res.destroy()
            got.set_result(future)
        req.on("response", on_response)
        future = await asyncio.wait_for(got, 5)
        try:
            return await asyncio.wait_for(future, 5)
        except Aborted as error:
            return error.code
    return asyncio.run(main())


@pytest.mark.parametrize("order", [["read", "destroy"], ["destroy", "read"]])
def test_a_read_of_a_body_destroyed_before_it_was_whole_raises_aborted(server, order):
    assert read_after(server.port, order) == "ECONNRESET"


def test_a_read_of_a_body_whole_before_its_destroy_still_gives_it():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(ANSWERS["length"])
    srv = RawServer(handler)
    try:
        # destroyed in the listener of the body's only chunk: the read() has all of it
        assert read_after(srv.port, ["read", "data-destroy"]) == b"hello"
    finally:
        srv.close()


def test_async_for_over_a_body_destroyed_with_an_error_raises_it():
    theirs = node_events(r"""
const srv = net.createServer((c) => c.once('data', () => c.write('%s'))).listen(0, '127.0.0.1', () => {
  http.get({port: srv.address().port, host: '127.0.0.1', agent: false}, async (res) => {
    res.on('end', () => log('end'));
    try { for await (const c of res) res.destroy(new Error('boom')); log('finished'); }
    catch (e) { log('raised', e.message); }
    done();
  }).on('error', () => {});
});""" % ANSWERS["length"].decode().replace("\r\n", "\\r\\n"))

    def handler(conn, index):
        while read_head(conn):
            conn.sendall(ANSWERS["length"])
    srv = RawServer(handler)

    async def main():
        events = []
        req = prefork.get({"port": srv.port, "host": "127.0.0.1", "agent": False})
        req.on("error", lambda e: None)
        res = await req.response()
        res.on("end", lambda: events.append(["end"]))
        try:
            async for chunk in res:
                res.destroy(Exception("boom"))
            events.append(["finished"])
        except Exception as error:
            events.append(["raised", str(error)])
        return events
    try:
        ours = asyncio.run(main())
    finally:
        srv.close()
    assert ours == theirs == [["raised", "boom"]], (ours, theirs)
