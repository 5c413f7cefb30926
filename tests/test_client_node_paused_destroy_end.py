"""A response destroyed while its whole body waits unread, then resumed before its
``close`` (``res.resume()``, or the request's ``abort()``/``destroy()`` dumping it), still
ends (``end`` after the ``abort``, before the closes), as Node's destroyed stream flows
to its end; resumed after its ``close``, it does not. A ``pause()`` in the ``data``
listener of the body's last chunk, whose end came in the same read, does not stop its
``end`` (nor does a ``res.destroy()`` after it): Node queues the ``end`` as it reads that
chunk. ``req.destroy(err)`` (or ``res.destroy(err)``) then ``abort()``: the request's
``error`` comes before the ``abort``, and both before the ``end``, in the order Node's
ticks were queued. Node's client against the same raw server, Content-Length and
chunked, the body in the head's read or in reads after it, no agent and a
keep-alive one."""

import asyncio
import json
import socket

import pytest

import prefork
from client_recorder import NODE_RECORDER, act, event_log, record_request, record_response
from harness import node_events
from test_hostile_client import RawServer, read_head

HEADS = {"chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
         "length": b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n",
         "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"}  # (the body ends at the close)
BODIES = {"chunked": [b"5\r\nhello\r\n", b"3\r\nabc\r\n0\r\n\r\n"], "length": [b"hello", b"abc"],
          "close": [b"hello", b"abc"]}

# Each stage's steps run at its point, once the stage before it ran: ``now`` (in the
# 'response' listener), ``data`` (the first 'data', its only listener), ``complete``
# (the parser has read the whole body), ``end`` and ``res.close`` (the response's).
NODE_CLIENT = NODE_RECORDER + r"""
const [port, agentKind, stages, readPort] = %s;
const agent = agentKind === 'none' ? false : new http.Agent({keepAlive: true});
const req = http.get({port, host: '127.0.0.1', agent});
recordRequest(req);
let i = 0, closed = false, over = false;
const settle = () => { if (!over && closed && i >= stages.length) { over = true; setTimeout(done, 50); } };
const next = (res) => {
  if (i >= stages.length) return settle();
  const [point, steps] = stages[i];
  const run = () => { act(steps, req, res); log('called'); i++; next(res); };
  if (point === 'now') run(); else if (point === 'data') res.once('data', run);
  else if (point === 'res.close') res.once('close', run); else if (point === 'end') res.once('end', run);
  else { const poll = () => res.complete ? run() : setTimeout(poll, 2); poll(); }
};
req.on('response', (res) => {
  if (readPort) net.connect(readPort, '127.0.0.1').end();  // (the head is read: the body may come)
  log('response'); recordResponse(res); next(res);
});
req.on('close', () => { closed = true; settle(); });
"""


def prefork_client(port, agent_kind, stages, read_port=0):
    async def main():
        loop = asyncio.get_running_loop()
        events, log = event_log()
        agent = False if agent_kind == "none" else prefork.Agent(keep_alive=True)
        req = prefork.get({"port": port, "host": "127.0.0.1", "agent": agent})
        record_request(req, log)
        state = {"stage": 0, "closed": False}
        over = loop.create_future()

        def settle():
            if state["closed"] and state["stage"] >= len(stages) and not over.done():
                loop.call_later(0.05, lambda: over.done() or over.set_result(None))

        def next_stage(res):
            if state["stage"] >= len(stages):
                return settle()
            point, steps = stages[state["stage"]]

            def run(*args):
                act(steps, req, res, log=log)
                log("called")
                state["stage"] += 1
                next_stage(res)

            def poll():
                run() if res.complete else loop.call_later(0.002, poll)
            if point == "now":
                run()
            elif point in ("data", "end", "res.close"):
                res.once(point.replace("res.", ""), run)
            else:
                poll()

        def on_response(res):
            if read_port:  # (the head is read: the body may come)
                socket.create_connection(("127.0.0.1", read_port), timeout=5).close()
            log("response")
            record_response(res, log)
            next_stage(res)
        req.on("response", on_response)

        def on_close():
            state["closed"] = True
            settle()
        req.on("close", on_close)
        await asyncio.wait_for(over, 5)
        return events
    return asyncio.run(main())


@pytest.fixture(params=["chunked", "length", "length-split"])  # (and "close", "close-split")
def server(request):
    kind = request.param.split("-")[0]
    split = request.param.endswith("split")

    head_read = socket.socket()  # split: the client connects here once it has read the head
    head_read.bind(("127.0.0.1", 0))
    head_read.listen(4)
    head_read.settimeout(10)

    def handler(conn, index):
        while read_head(conn):
            if split:  # the body in reads after the head's: sent once the client has read it
                conn.sendall(HEADS[kind])
                head_read.accept()[0].close()
                for piece in BODIES[kind]:
                    conn.sendall(piece)
            else:
                conn.sendall(HEADS[kind] + b"".join(BODIES[kind]))
            if kind == "close":
                return
    srv = RawServer(handler)
    srv.kind = request.param
    srv.read_port = head_read.getsockname()[1] if split else 0
    yield srv
    srv.close()
    head_read.close()


def joined(events):
    """``events`` with adjacent ``res data`` joined: how the body's pieces fall into reads
    is the kernel's."""
    out = []
    for event in events:
        if event[0] == "res data" and out and out[-1][0] == "res data":
            out[-1] = ["res data", out[-1][1] + event[1]]
        else:
            out.append(event)
    return out


def compare(server, agent_kind, stages):
    theirs = node_events(NODE_CLIENT % (json.dumps([server.port, agent_kind, stages, server.read_port]),))
    ours = prefork_client(server.port, agent_kind, stages, server.read_port)
    ours, theirs = joined(ours), joined(theirs)
    assert ours == theirs, (ours, theirs)
    return ours


@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("steps", [["res.destroy", "abort"], ["res.destroy", "destroy"], ["res.destroy", "resume"],
                                   ["res.destroy", "listen", "resume"]], ids="+".join)
@pytest.mark.parametrize("paused", [True, False], ids=["paused", "unread"])
def test_a_whole_body_destroyed_unread_then_resumed_before_its_close_ends(server, agent_kind, steps, paused):
    stages = ([["now", ["pause"]]] if paused else []) + [["complete", steps]]
    ours = compare(server, agent_kind, stages)
    assert ours[-3:] == [["res", "end"], ["res", "close"], ["req", "close"]]
    if "listen" in steps:  # the kept body goes out before its 'end', as Node's
        assert ["res data", "helloabc"] in ours


@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("steps", [["res.destroy", "resume", "pause"], ["res.destroy", "abort", "pause"],
                                   ["res.destroy", "listen", "resume", "pause"]], ids="+".join)
@pytest.mark.parametrize("paused", [True, False], ids=["paused", "unread"])
def test_a_whole_body_destroyed_unread_resumed_then_paused_in_one_turn_does_not_end(server, agent_kind, steps,
                                                                                      paused):
    stages = ([["now", ["pause"]]] if paused else []) + [["complete", steps]]
    ours = compare(server, agent_kind, stages)
    assert ["res", "end"] not in ours and ours[-2:] == [["res", "close"], ["req", "close"]]


@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
def test_a_whole_body_destroyed_paused_then_aborted_after_its_close_does_not_end(server, agent_kind):
    ours = compare(server, agent_kind, [["now", ["pause"]], ["complete", ["res.destroy"]], ["res.close", ["abort"]]])
    assert ["res", "end"] not in ours and ["req", "abort"] in ours


@pytest.mark.parametrize("server", ["length"], indirect=True)  # (one chunk, its end read with it)
@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("steps", [["pause"], ["pause", "res.destroy"], ["pause", "abort"]], ids="+".join)
def test_a_pause_in_the_data_listener_of_the_last_chunk_does_not_stop_its_end(server, agent_kind, steps):
    ours = compare(server, agent_kind, [["data", steps]])
    assert ["res", "end"] in ours


@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("stages", [
    [["now", ["destroy.error"]]],
    [["now", ["destroy.error", "abort"]]],
    [["now", ["pause"]], ["complete", ["destroy.error", "abort"]]],
    [["now", ["pause"]], ["complete", ["res.destroy.error", "abort"]]],
], ids=["destroy-err", "destroy-err+abort", "paused+destroy-err+abort", "paused+res.destroy-err+abort"])
def test_a_destroy_with_an_error_then_an_abort_give_the_error_first(server, agent_kind, stages):
    ours = compare(server, agent_kind, stages)
    if stages == [["now", ["destroy.error"]]]:  # (no abort() called)
        assert ["req", "abort"] not in ours and ["req error", None] in ours
    else:
        assert ours.index(["req error", None]) < ours.index(["req", "abort"])


@pytest.mark.parametrize("server", ["close", "close-split"], indirect=True)
@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("stages", [
    [["now", ["destroy.error"]]],
    [["now", ["destroy.error", "abort"]]],
], ids=["destroy-err", "destroy-err+abort"])
def test_a_destroy_with_an_error_ends_a_close_delimited_body_as_a_socket_error_does(server, agent_kind, stages):
    ours = compare(server, agent_kind, stages)
    assert ours.index(["req error", None]) < ours.index(["res", "end"])


@pytest.mark.parametrize("server", ["close", "close-split"], indirect=True)
@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("steps", [["destroy.error"], ["destroy.error", "abort"]], ids="+".join)
def test_a_destroy_with_an_error_once_the_peer_closed_gives_no_error(server, agent_kind, steps):
    ours = compare(server, agent_kind, [["now", ["resume"]], ["end", steps]])
    assert ["req error", None] not in ours


@pytest.mark.parametrize("agent_kind", ["none", "keep-alive"])
@pytest.mark.parametrize("stages", [
    [["now", ["abort", "res.destroy.error"]]],
    [["now", ["pause"]], ["complete", ["abort", "res.destroy.error"]]],
], ids=["abort+res.destroy-err", "paused+abort+res.destroy-err"])
def test_a_response_destroyed_with_an_error_after_an_abort_gives_it_to_the_response_only(server, agent_kind, stages):
    # the abort() destroyed the socket without an error: Node's request gets none
    ours = compare(server, agent_kind, stages)
    assert ["req error", None] not in ours and ["res error", None] in ours
