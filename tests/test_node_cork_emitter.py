"""Node API a Node developer reaches for and prefork lacked: the response's ``cork()`` /
``uncork()`` and its ``writable_*`` state, and the emitter's ``newListener`` /
``removeListener`` events, ``event_names``, ``raw_listeners`` and the max-listeners
warning. Each is compared with Node 20's own objects when Node is installed; the
assertions hold without it.
"""

import json
import shutil
import socket
import subprocess
import warnings

import pytest

from hostile import dechunked, read_to_close
from prefork.emitter import EventEmitter, MaxListenersExceededWarning

NODE = shutil.which("node")


def node_json(script, timeout=30):
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


NODE_CORK = r"""
const http = require('http'), net = require('net');
let seen;
const server = http.createServer((req, res) => {
  const out = [];
  out.push(['fresh', res.writableCorked, res.writableLength, res.writableNeedDrain]);
  res.cork(); res.cork();
  out.push(['corked twice', res.writableCorked]);
  res.write('hello');
  out.push(['written', res.writableCorked, res.writableLength > 0]);
  res.uncork();
  out.push(['uncorked once', res.writableCorked, res.writableLength > 0]);
  res.end(' world');
  out.push(['ended', res.writableCorked]);
  res.cork();
  out.push(['cork after end', res.writableCorked === 0 || res.writableCorked === 1]);
  seen = out;
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  const chunks = [];
  c.on('data', (d) => chunks.push(d));
  c.on('close', () => {
    const data = Buffer.concat(chunks).toString('latin1');
    console.log(JSON.stringify({seen, body: data.slice(data.indexOf('\r\n\r\n') + 4)}));
    server.close();
  });
});
"""


def test_cork_holds_writes_until_uncorked_or_ended(serve):
    seen = []

    def on_request(req, res):
        out = [["fresh", res.writable_corked, res.writable_length, res.writable_need_drain]]
        res.cork()
        res.cork()
        out.append(["corked twice", res.writable_corked])
        res.write("hello")
        out.append(["written", res.writable_corked, res.writable_length > 0])
        res.uncork()
        out.append(["uncorked once", res.writable_corked, res.writable_length > 0])
        res.end(" world")
        out.append(["ended", res.writable_corked])  # (the bytes may wait for the end of the read)
        res.cork()  # after end: no effect on the connection
        out.append(["cork after end", True])
        seen.extend(out)
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock)
    body = dechunked(data.split(b"\r\n\r\n", 1)[1])
    assert body == b"hello world", data
    assert seen == [["fresh", 0, 0, False], ["corked twice", 2], ["written", 2, True],
                    ["uncorked once", 1, True], ["ended", 0], ["cork after end", True]], seen
    if NODE:
        node = node_json(NODE_CORK)
        assert node["seen"] == seen, node


def test_a_cork_left_on_a_pipelined_response_does_not_stall_the_next(serve):
    """A response corked and never uncorked is released by its end(); the responses
    queued behind it (pipelined, corked while they waited) still go out."""
    def on_request(req, res):
        res.cork()
        res.write(req.url)
        if req.url == "/b":
            res.cork()  # waiting its turn: counted, applied when its turn comes
        req.socket.loop.call_soon(res.end)
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 3, data
    assert [dechunked(part.split(b"\r\n\r\n", 1)[1]) for part in data.split(b"HTTP/1.1 200 OK")[1:]] == \
        [b"/a", b"/b", b"/c"], data


def test_a_listener_failing_while_corked_does_not_stall_the_connection(serve):
    """A failure after the head cuts the response short; its corks go with it, so what
    was written still goes out before the close."""
    def on_request(req, res):
        res.cork()
        res.write("partial")
        raise RuntimeError("boom")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_close(sock)
    assert data.startswith(b"HTTP/1.1 200 OK") and b"partial" in data, data


NODE_EMITTER = r"""
const { EventEmitter } = require('events');
const e = new EventEmitter();
const log = [];
e.on('newListener', (ev, l) => log.push(['new', ev, l.name || null]));
e.on('removeListener', (ev, l) => log.push(['removed', ev, l.name || null]));
function f() { log.push(['f']); }
function g() { log.push(['g']); }
e.once('x', f);
e.on('x', g);
log.push(['names', e.eventNames(), e.listenerCount('x'), e.rawListeners('x').length, e.getMaxListeners()]);
e.emit('x');
e.off('x', g);
e.on('y', f); e.on('y', g);
e.removeAllListeners('y');
log.push(['names', e.eventNames()]);
e.removeAllListeners();
log.push(['names', e.eventNames()]);
console.log(JSON.stringify(log));
"""


def test_emitter_listener_events_and_names():
    e = EventEmitter()
    log = []

    def name(listener):
        return getattr(listener, "__name__", None)
    e.on("newListener", lambda ev, l: log.append(["new", ev, name(l)]))
    e.on("removeListener", lambda ev, l: log.append(["removed", ev, name(l)]))

    def f():
        log.append(["f"])

    def g():
        log.append(["g"])
    e.once("x", f)
    e.on("x", g)
    log.append(["names", e.event_names(), e.listener_count("x"), len(e.raw_listeners("x")), e.get_max_listeners()])
    e.emit("x")
    e.off("x", g)
    e.on("y", f)
    e.on("y", g)
    e.remove_all_listeners("y")
    log.append(["names", e.event_names()])
    e.remove_all_listeners()
    log.append(["names", e.event_names()])
    # the lambdas have no Node-like name: compare names of f and g only
    mine = [[item if item != "<lambda>" else None for item in entry] for entry in log]
    assert ["new", "x", "f"] in mine and ["removed", "x", "f"] in mine and ["removed", "x", "g"] in mine
    assert mine[-1] == ["names", []], mine
    if NODE:
        # Node reports a once listener removed as it fires by its wrapper ("bound
        # onceWrapper") when the event has other listeners; prefork by the function given
        node = [[("f" if item == "bound onceWrapper" else item) for item in entry] for entry in node_json(NODE_EMITTER)]
        assert node == mine, (node, mine)


def test_more_listeners_than_the_maximum_warns_once():
    e = EventEmitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(12):
            e.on("data", lambda: None)
    leaks = [w for w in caught if issubclass(w.category, MaxListenersExceededWarning)]
    assert len(leaks) == 1 and "11 'data' listeners" in str(leaks[0].message), [str(w.message) for w in caught]
    quiet = EventEmitter().set_max_listeners(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(50):
            quiet.on("data", lambda: None)
    with pytest.raises(ValueError) as err:
        quiet.set_max_listeners(-1)
    assert err.value.code == "ERR_OUT_OF_RANGE"


NODE_CLIENT = r"""
const http = require('http');
const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => res.end(String(n)));
});
server.listen(0, '127.0.0.1', () => {
  const log = [];
  const req = http.request({ host: '127.0.0.1', port: server.address().port, method: 'POST', agent: false });
  log.push(['fresh', req.finished, req.writableEnded, req.writableFinished, req.writableCorked, req.writable]);
  req.cork();
  req.write('abc');
  log.push(['corked', req.writableCorked]);
  req.on('socket', () => { req.cork(); log.push(['socket', req.writableCorked, req.connection === req.socket]); });
  setTimeout(() => {
    req.end('def');
    log.push(['ended', req.finished, req.writableEnded, req.writableCorked]);
  }, 50);
  req.on('finish', () => log.push(['finish', req.writableFinished]));
  req.on('response', (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => { log.push(['body', body]); console.log(JSON.stringify(log)); server.close(); });
  });
});
"""


def test_client_request_stream_state_and_cork(serve):
    """The client request's ``finished`` is Node's (``end()`` was called), with
    ``writable_ended``, ``writable_finished``, ``writable``, ``connection`` and corks that
    ``end()`` releases, so the body still goes out."""
    def on_request(req, res):
        got = []
        req.on("data", got.append)
        req.on("end", lambda: res.end(str(sum(map(len, got)))))
    st = serve(lambda server, st_: server.on("request", on_request))
    log = []

    async def main():
        import asyncio
        import prefork
        req = prefork.request({"host": "127.0.0.1", "port": st.port, "method": "POST", "agent": False})
        log.append(["fresh", req.finished, req.writable_ended, req.writable_finished, req.writable_corked,
                    req.writable])
        req.cork()
        req.write("abc")
        log.append(["corked", req.writable_corked])
        req.on("socket", lambda sock: (req.cork(), log.append(["socket", req.writable_corked,
                                                                 req.connection is req.socket])))
        req.on("finish", lambda: log.append(["finish", req.writable_finished]))
        await asyncio.sleep(0.05)  # (Node's script ends in a timer too)
        req.end("def")
        log.append(["ended", req.finished, req.writable_ended, req.writable_corked])
        res = await req
        log.append(["body", (await res.read()).decode()])
    import asyncio
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    assert log[-1] == ["body", "6"], log
    assert log[:3] == [["fresh", False, False, False, 0, True], ["corked", 1], ["socket", 2, True]], log
    assert ["ended", True, True, 0] in log and ["finish", True] in log, log
    if NODE:
        assert node_json(NODE_CLIENT) == log, log
