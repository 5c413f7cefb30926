"""A response body as Node's Readable: kept while nobody reads it, ``end`` only once it
has been read, lost when the response flows with no ``data`` listener. Each scenario
runs with Node's client and prefork's against the same raw server; the events must
match (a ``data`` listener attached after the whole body came gets it, then ``end``)."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

BODY = b"hello"


def keep_alive_handler(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + BODY)


def closing_handler(conn, index):
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n" + BODY)


@pytest.fixture
def servers():
    started = []

    def start(handler):
        srv = RawServer(handler)
        started.append(srv)
        return srv
    yield start
    for srv in started:
        srv.close()


# What the response listener does at once (``early``) and once the whole body is in
# (``res.complete``; for "close", once the request closed too): ``late``.
NODE_FLOW = r"""
const port = %(port)d, mode = '%(mode)s';
const agent = new http.Agent({keepAlive: true});
function second() {
  const again = http.get({host: '127.0.0.1', port, agent, path: '/again'}, (res) => {
    res.resume(); res.on('end', () => { log('second', again.reusedSocket); agent.destroy(); done(); });
  });
}
const req = http.get({host: '127.0.0.1', port, agent});
let closed = false;
req.on('close', () => { closed = true; log('close'); });
req.on('error', (e) => log('error', e.code || e.message));
req.on('response', (res) => {
  log('response');
  res.on('end', () => log('res.end'));
  res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.message));
  res.on('close', () => { log('res.close'); setTimeout(mode === 'close' ? done : second, 20); });
  if (mode === 'resume') res.resume();
  if (mode === 'off') { const f = () => log('dropped'); res.on('data', f); res.off('data', f); }
  if (mode === 'pause') res.pause();
  const deadline = Date.now() + 3000;
  const wait = () => {
    if (!(res.complete && (mode !== 'close' || closed)) && Date.now() < deadline) return setTimeout(wait, 5);
    log('late');
    if (mode === 'destroy') { res.destroy(); return; }
    if (mode === 'destroy(err)') { res.destroy(new Error('boom')); return; }
    res.on('data', (d) => log('data', d.toString()));
    if (mode === 'pause') setTimeout(() => { log('resume'); res.resume(); }, 30);
  };
  wait();
});
"""


def prefork_flow(port, mode):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        log = events.append
        agent = prefork.Agent()
        finished = loop.create_future()

        def second():
            again = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent, "path": "/again"})

            def on_response(res):
                res.resume()
                res.on("end", lambda: (log(["second", again.reused_socket]), finished.set_result(None)))
            again.on("response", on_response)

        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent})
        closed = []
        req.on("close", lambda: (closed.append(True), log(["close"])))
        req.on("error", lambda e: log(["error", getattr(e, "code", None) or str(e)]))

        def on_response(res):
            log(["response"])
            res.on("end", lambda: log(["res.end"]))
            res.on("aborted", lambda: log(["res.aborted"]))
            res.on("error", lambda e: log(["res.error", str(e)]))

            def on_close():
                log(["res.close"])
                if mode == "close":
                    loop.call_later(0.02, finished.set_result, None)
                else:
                    loop.call_later(0.02, second)
            res.on("close", on_close)
            if mode == "resume":
                res.resume()
            if mode == "off":
                def dropped(chunk):
                    log(["dropped"])
                res.on("data", dropped)
                res.off("data", dropped)
            if mode == "pause":
                res.pause()
            deadline = loop.time() + 3

            def wait():
                if not (res.complete and (mode != "close" or closed)) and loop.time() < deadline:
                    loop.call_later(0.005, wait)
                    return
                log(["late"])
                if mode == "destroy":
                    res.destroy()
                    return
                if mode == "destroy(err)":
                    res.destroy(Exception("boom"))
                    return
                res.on("data", lambda d: log(["data", d.decode()]))
                if mode == "pause":
                    loop.call_later(0.03, lambda: (log(["resume"]), res.resume()))
            wait()
        req.on("response", on_response)
        await asyncio.wait_for(finished, 5)
        agent.destroy()
        return events
    return asyncio.run(main())


EXPECTED = {
    # attached once the body is in: the body, then end; the socket then serves the next request
    "late": [["response"], ["late"], ["data", "hello"], ["res.end"], ["close"], ["res.close"], ["second", True]],
    # resumed with nobody listening: the body is dropped, end comes at once
    "resume": [["response"], ["res.end"], ["close"], ["res.close"], ["late"], ["second", True]],
    # a data listener added and removed: the response flows, nothing is kept
    "off": [["response"], ["res.end"], ["close"], ["res.close"], ["late"], ["second", True]],
    # paused: a data listener does not resume it; resume() does
    "pause": [["response"], ["late"], ["resume"], ["data", "hello"], ["res.end"], ["close"], ["res.close"],
              ["second", True]],
    # the server closed the connection: the request's close first, the body still there
    "close": [["response"], ["close"], ["late"], ["data", "hello"], ["res.end"], ["res.close"]],
    # destroyed complete but unread: aborted, never end; the socket is not reused
    "destroy": [["response"], ["late"], ["res.aborted"], ["res.close"], ["close"], ["second", False]],
    # and with an error: the request's, then the response's
    "destroy(err)": [["response"], ["late"], ["res.aborted"], ["error", "boom"], ["res.error", "boom"], ["res.close"],
                     ["close"], ["second", False]],
}


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_a_response_body_flows_as_in_node(servers, mode):
    srv = servers(closing_handler if mode == "close" else keep_alive_handler)
    ours = prefork_flow(srv.port, mode)
    theirs = node_events(NODE_FLOW % {"port": srv.port, "mode": mode})
    assert theirs == EXPECTED[mode]
    assert ours == theirs


def test_a_response_read_late_by_a_coroutine_listener_gets_its_body_and_end(servers):
    """A coroutine ``response`` listener that awaits before listening to ``data``."""
    srv = servers(keep_alive_handler)

    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        agent = prefork.Agent()

        async def on_response(res):
            while not res.complete:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0)
            chunks = []
            res.on("data", chunks.append)
            res.on("end", lambda: got.set_result(b"".join(chunks)))
        req = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent})
        req.on("response", on_response)
        body = await asyncio.wait_for(got, 5)
        agent.destroy()
        return body
    assert asyncio.run(main()) == BODY


NODE_FLAGS = r"""
const req = http.get({host: '127.0.0.1', port: %d, agent: false}, (res) => {
  const flags = (at) => log(at, res.readableFlowing, res.isPaused(), res.readableEnded);
  flags('response');
  res.pause(); flags('paused');
  res.on('data', () => {}); flags('data while paused');
  res.on('end', () => { flags('end'); setImmediate(() => { flags('after end'); done(); }); });
  res.resume(); flags('resumed');
});
"""


def test_the_flow_flags_are_nodes(servers):
    srv = servers(keep_alive_handler)

    async def main():
        loop = asyncio.get_running_loop()
        events = []
        finished = loop.create_future()

        def on_response(res):
            def flags(at):
                events.append([at, res.readable_flowing, res.is_paused(), res.readable_ended])
            flags("response")
            res.pause()
            flags("paused")
            res.on("data", lambda d: None)
            flags("data while paused")
            res.on("end", lambda: (flags("end"), loop.call_soon(lambda: (flags("after end"), finished.set_result(None)))))
            res.resume()
            flags("resumed")
        prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": False}, on_response)
        await asyncio.wait_for(finished, 4)
        return events
    ours = asyncio.run(main())
    theirs = node_events(NODE_FLAGS % srv.port)
    assert theirs[1] == ["paused", False, True, False] and theirs[-1][-1] is True
    assert ours == theirs
