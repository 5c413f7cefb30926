"""When the connection ends a response part-way (a FIN inside a ``Content-Length`` body,
or a bad chunk), the request is ``destroyed`` already as the response's ``aborted``
comes; when the application destroys the response (``res.destroy()``, with an error or
not), it is not until its ``close``. The response's state at each event is Node's (``complete``, ``aborted``,
``destroyed``, ``readable_ended``, ``readable_aborted``, ``errored``, ``closed``).
Node's client against the same raw server."""

import asyncio
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

ANSWERS = {
    "/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
    "/bad": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "/destroy": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",  # the rest never comes
    "/destroy-error": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
}


def handler(conn, index):
    head = read_head(conn)
    if not head:
        return
    path = head.split(b" ")[1].decode()
    conn.sendall(ANSWERS[path])
    if path.startswith("/destroy"):
        conn.recv(1)  # (the client's close)
    else:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


NODE_STATE = r"""
const port = %(port)d, path = '%(path)s', kind = '%(agent)s';
const agent = kind === 'pool' ? new http.Agent({keepAlive: true}) : false;
const req = http.request({host: '127.0.0.1', port, path, agent});
const state = (tag) => {
  const r = req.res;
  log(tag, req.destroyed, r ? [r.complete, r.aborted, r.destroyed, r.readableEnded, r.readableAborted,
                               r.errored ? r.errored.code : null, r.closed] : null);
};
req.on('error', () => state('error'));
let closes = 0;
const closed = () => { if (++closes === 2) setImmediate(() => { if (agent) agent.destroy(); done(); }); };
req.on('close', () => { state('close'); closed(); });
req.on('response', (res) => {
  state('response');
  res.on('data', () => {
    state('data');
    if (path === '/destroy') res.destroy();
    if (path === '/destroy-error') res.destroy(Object.assign(new Error('given'), {code: 'EGIVEN'}));
  });
  res.on('aborted', () => state('aborted'));
  res.on('error', () => state('res.error'));
  res.on('close', () => { state('res.close'); closed(); });
});
req.end();
"""


def prefork_state(port, path, kind):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        over = loop.create_future()
        agent = prefork.Agent(keep_alive=True) if kind == "pool" else False
        req = prefork.request({"host": "127.0.0.1", "port": port, "path": path, "agent": agent})

        def state(tag):
            r = req.res
            events.append([tag, req.destroyed, None if r is None else [
                r.complete, r.aborted, r.destroyed, r.readable_ended, r.readable_aborted,
                None if r.errored is None else r.errored.code, r.closed]])
        req.on("error", lambda err: state("error"))
        closes = []

        def closed(tag):
            state(tag)
            closes.append(tag)
            if len(closes) == 2:
                loop.call_soon(over.set_result, None)
        req.on("close", lambda: closed("close"))

        def on_response(res):
            state("response")
            def on_data(chunk):
                state("data")
                if path == "/destroy":
                    res.destroy()
                elif path == "/destroy-error":
                    err = Exception("given")
                    err.code = "EGIVEN"
                    res.destroy(err)
            res.on("data", on_data)
            res.on("aborted", lambda: state("aborted"))
            res.on("error", lambda err: state("res.error"))
            res.on("close", lambda: closed("res.close"))
        req.on("response", on_response)
        req.end()
        try:
            await asyncio.wait_for(over, 5)
        finally:
            if agent:
                agent.destroy()
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["none", "pool"])
@pytest.mark.parametrize("path", ["/cut", "/bad", "/destroy", "/destroy-error"])
def test_the_request_is_destroyed_when_its_response_is_aborted(server, path, kind):
    theirs = node_events(NODE_STATE % {"port": server.port, "path": path, "agent": kind})
    aborted = [event for event in theirs if event[0] == "aborted"]
    assert aborted and aborted[0][1] is (path in ("/cut", "/bad"))
    assert prefork_state(server.port, path, kind) == theirs
