"""Node's http client journeys on prefork's client, side by side with Node's own client.

Both clients make the same requests through one agent to the same server (Node's or
prefork's, each telling in its answer which of its connections carried the request),
and must report the same events in the same order, with the same bodies: so the same
connection reuse.
"""

import asyncio
import json
import os
import subprocess

import pytest

import prefork
from harness import NODE, node_script_port

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

NODE_SERVER = r"""
const http = require('http');
let conns = 0;
const s = http.createServer((req, res) => setTimeout(() => res.end(req.url + ' on ' + req.socket.n), 20));
s.on('connection', (sock) => { sock.n = ++conns; });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""


@pytest.fixture(params=["node", "prefork"])
def target(request, serve):
    """A server answering ``<path> on <connection number>`` after 20 ms."""
    if request.param == "prefork":
        def setup(server, _st):
            count = [0]

            def on_connection(sock):
                count[0] += 1
                sock.n = count[0]
            server.on("connection", on_connection)
            server.on("request", lambda req, res: server.loop.call_later(
                0.02, res.end, f"{req.url} on {req.socket.n}"))
        yield serve(setup).port
        return
    with node_script_port(NODE_SERVER) as port:
        yield port


def run_node(sc):
    out = subprocess.run([NODE, os.path.join(HERE, "journey_client.js"), json.dumps(sc)],
                         capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


def run_prefork(sc):
    loop = asyncio.new_event_loop()
    options = sc["agent"]
    agent = prefork.Agent(keep_alive=options.get("keepAlive", False), max_sockets=options.get("maxSockets"))
    events = []
    done = []
    for path in sc["paths"]:
        def on_response(res, path=path):
            events.append(["response", path, res.status_code])
            if sc.get("drain") == "resume":
                res.resume()
                res.on("end", lambda: events.append(["end", path]))
                return
            body = []
            res.on("data", body.append)
            res.on("end", lambda: events.append(["end", path, b"".join(body).decode()]))
        req = prefork.request({"host": "127.0.0.1", "port": sc["port"], "path": path, "agent": agent},
                              on_response, loop=loop)
        req.on("socket", lambda _s, path=path, req=req: events.append(["socket", path, req.reused_socket]))
        req.on("error", lambda e, path=path: events.append(["error", path, e.code]))

        def on_close(path=path):
            events.append(["close", path])
            done.append(path)
            if len(done) == len(sc["paths"]):
                loop.stop()
        req.on("close", on_close)
        req.end()
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    agent.destroy()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    return events


def relative(events):
    """Connection numbers as the order in which this client first saw them (the server
    counts every client's connections)."""
    seen = {}
    out = []
    for event in events:
        if event[0] == "end" and len(event) == 3:
            path, _, number = event[2].partition(" on ")
            event = ["end", event[1], f"{path} on {seen.setdefault(number, len(seen) + 1)}"]
        out.append(event)
    return out


AGENTS = {
    # requests in line behind a socket limit take the socket of the one before them
    "one socket, kept alive": {"keepAlive": True, "maxSockets": 1},
    "one socket, not kept alive": {"keepAlive": False, "maxSockets": 1},
    "two sockets for three requests": {"keepAlive": True, "maxSockets": 2},
}


@pytest.mark.parametrize("name", list(AGENTS))
def test_requests_in_line_as_with_node(name, target):
    sc = {"port": target, "agent": AGENTS[name], "paths": ["/a", "/b", "/c"]}
    ours = run_prefork(sc)
    assert [e[0] for e in ours].count("close") == 3, ours
    theirs = run_node(sc)
    if AGENTS[name]["maxSockets"] == 1:
        assert relative(ours) == relative(theirs)
    else:  # two requests in flight at once: their events interleave as the server answers
        assert sorted(ours, key=lambda e: e[1])[:2] == sorted(theirs, key=lambda e: e[1])[:2]
        assert [e for e in ours if e[1] == "/c"][0] == [e for e in theirs if e[1] == "/c"][0]
        assert sorted(e[0] for e in ours) == sorted(e[0] for e in theirs)


def test_resume_drains_a_response_as_with_node(target):
    """``res.resume()`` with no ``data`` listener: the body is read and dropped, 'end'
    comes, and the socket serves the next request."""
    sc = {"port": target, "agent": {"keepAlive": True, "maxSockets": 1}, "paths": ["/a", "/b"], "drain": "resume"}
    ours = run_prefork(sc)
    assert ["end", "/b"] in ours
    assert ours == run_node(sc)


def destroy_events(stage, with_error):
    """prefork's twin of journey_client_destroy.js: the same server, request and stage."""
    loop = asyncio.new_event_loop()

    def handler(req, res):
        if req.url == "/slow":
            res.write("part")
            loop.call_later(0.3, res.end, "rest")
        elif req.url != "/never":
            loop.call_later(0.02, res.end, "hi")
    server = prefork.create_server(handler, loop=loop)
    server.listen(0)
    events = []
    path = "/slow" if stage.startswith("data") else ("/never" if stage == "timeout" else "/")
    agent = prefork.Agent(keep_alive=True)
    req = prefork.request({"port": server.address()["port"], "host": "127.0.0.1", "path": path, "agent": agent},
                          loop=loop)

    def kill():
        req.destroy(Exception("boom") if with_error else None)

    def on_socket(_socket):
        events.append("socket")
        if stage == "socket":
            kill()

    def on_response(res):
        events.append("response")

        def on_data(_chunk):
            events.append("data")
            if stage == "data":
                kill()
            elif stage == "data-res":
                res.destroy()
        res.on("data", on_data)
        res.on("end", lambda: events.append("end"))
        res.on("aborted", lambda: events.append("res.aborted"))
        res.on("error", lambda e: events.append(f"res.error:{e.code}:{e}"))
        res.on("close", lambda: events.append("res.close"))
        if stage == "response":
            kill()

    def on_timeout():
        events.append("timeout")
        kill()

    def on_close():
        events.append("close")
        loop.call_later(0.1, loop.stop)
    req.on("socket", on_socket)
    req.on("finish", lambda: events.append("finish"))
    req.on("response", on_response)
    req.on("error", lambda e: events.append(f"error:{getattr(e, 'code', None) or ''}:{e}"))
    req.on("timeout", on_timeout)
    req.on("close", on_close)
    if stage == "timeout":
        req.set_timeout(0.1)
    req.end()
    if stage == "immediately":
        kill()
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    agent.destroy()
    server.close_all_connections()
    server.close()
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    return events


@pytest.mark.parametrize("with_error", [False, True], ids=["plain", "with-error"])
@pytest.mark.parametrize("stage", ["immediately", "socket", "response", "data", "data-res", "timeout"])
def test_destroy_at_every_stage_as_with_node(stage, with_error):
    """``req.destroy([err])`` before the socket, on it, on the response, mid-body, on a
    timeout, and ``res.destroy()`` mid-body: the same events in the same order."""
    ours = destroy_events(stage, with_error)
    out = subprocess.run([NODE, os.path.join(HERE, "journey_client_destroy.js"), stage] + (["err"] if with_error else []),
                         capture_output=True, text=True, timeout=30)
    theirs = json.loads(out.stdout)
    if stage == "response":
        # the whole response came in the read whose 'response' listener destroyed the
        # request: Node emits 'end' on a later tick, after the given error; prefork
        # emits it in that read, before the error
        theirs = [e for e in theirs if not e.startswith("error")]
        ours = [e for e in ours if not e.startswith("error")]
    assert ours == theirs


NODE_HINT = r"""
const http = require('http');
let conns = 0;
const srv = http.createServer((req, res) => res.end('on ' + req.socket.n));
srv.keepAliveTimeout = Number(process.argv[1]) * 1000;
srv.on('connection', (s) => { s.n = ++conns; });
srv.listen(0, '127.0.0.1', () => {
  const agent = new http.Agent({ keepAlive: true, timeout: 5000 });
  const events = [];
  const one = (path, next) => {
    const req = http.get({ port: srv.address().port, host: '127.0.0.1', path, agent }, (res) => {
      let body = ''; res.on('data', (d) => { body += d; });
      res.on('end', () => events.push([path, req.reusedSocket, body, res.headers['keep-alive']]));
    });
    req.on('close', () => setTimeout(next, 50));  // (see hint_events)
  };
  one('/a', () => one('/b', () => {
    events.push(Object.keys(agent.freeSockets).length);
    console.log(JSON.stringify(events)); process.exit(0);
  }));
});
"""


def hint_events(serve, keep_alive_timeout):
    """prefork's twin of NODE_HINT: two requests in turn through one keep-alive agent."""
    count = [0]

    def setup(server, _st):
        def on_connection(sock):
            count[0] += 1
            sock.n = count[0]
        server.on("connection", on_connection)
        server.on("request", lambda req, res: res.end(f"on {req.socket.n}"))
    st = serve(setup, keep_alive_timeout=keep_alive_timeout)
    loop = asyncio.new_event_loop()
    agent = prefork.Agent(keep_alive=True, timeout=5.0)
    events = []

    def one(path, then):
        def on_response(res):
            body = []
            res.on("data", body.append)
            res.on("end", lambda: events.append([path, req.reused_socket, b"".join(body).decode(),
                                                 res.headers.get("keep-alive")]))
        req = prefork.get({"port": st.port, "host": "127.0.0.1", "path": path, "agent": agent}, on_response, loop=loop)
        # the next request a little later: Node's agent frees the socket just after the
        # request's 'close' and takes a request in the constructor, so a request made
        # inside 'close' connects anew there; prefork's starts a loop turn later and
        # finds the socket free (docs/node-compat.md)
        req.on("close", lambda: loop.call_later(0.05, then))

    def done():
        events.append(sum(len(free) for free in agent.free_sockets.values()))
        loop.stop()
    loop.call_soon(one, "/a", lambda: one("/b", done))
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    agent.destroy()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    return events


@pytest.mark.parametrize("keep_alive_timeout", [1, 3])
def test_the_servers_keep_alive_hint_as_with_node(serve, keep_alive_timeout):
    """A free socket is kept a second less than the server's ``Keep-Alive: timeout=N``;
    with N = 1 nothing is left, so it is not pooled and the next request connects anew."""
    ours = hint_events(serve, keep_alive_timeout)
    out = subprocess.run([NODE, "-e", NODE_HINT, str(keep_alive_timeout)], capture_output=True, text=True, timeout=30)
    assert ours == json.loads(out.stdout)
    assert ours[1][1] is (keep_alive_timeout > 1)


NODE_WRITE_AFTER_END = r"""
const http = require('http');
const srv = http.createServer((req, res) => res.end('ok'));
srv.listen(0, '127.0.0.1', () => {
  const events = [];
  const req = http.request({ port: srv.address().port, host: '127.0.0.1', agent: false }, (res) => {
    events.push('response'); res.resume();
  });
  req.on('error', (e) => events.push('error:' + e.code));
  req.on('close', () => { events.push('close'); console.log(JSON.stringify(events)); process.exit(0); });
  req.end();
  events.push('write:' + req.write('x', () => events.push('callback')));
});
"""


def test_a_write_after_end_is_an_error_event_as_with_node(serve):
    st = serve(lambda server, _st: server.on("request", lambda req, res: res.end("ok")))
    loop = asyncio.new_event_loop()
    events = []

    def on_response(res):
        events.append("response")
        res.resume()
    req = prefork.request({"port": st.port, "host": "127.0.0.1", "agent": False}, on_response, loop=loop)
    req.on("error", lambda e: events.append(f"error:{e.code}"))
    req.on("close", lambda: (events.append("close"), loop.stop()))
    req.end()
    events.append(f"write:{str(req.write('x', lambda: events.append('callback'))).lower()}")
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    loop.close()
    out = subprocess.run([NODE, "-e", NODE_WRITE_AFTER_END], capture_output=True, text=True, timeout=30)
    assert events == json.loads(out.stdout)


NODE_REQUEST_HEADERS = r"""
const http = require('http');
const srv = http.createServer((req, res) => res.end(JSON.stringify(req.rawHeaders)));
function code(fn) { try { fn(); return null; } catch (e) { return e.code; } }
srv.listen(0, '127.0.0.1', () => {
  const events = [];
  const req = http.request({ port: srv.address().port, host: '127.0.0.1', agent: false, method: 'POST' }, (res) => {
    let body = ''; res.on('data', (d) => { body += d; });
    res.on('end', () => { events.push(JSON.parse(body)); console.log(JSON.stringify(events)); process.exit(0); });
  });
  req.setHeader('X-A', '1'); req.appendHeader('x-a', ['2', '3']); req.setHeader('X-B', 'b'); req.removeHeader('x-b');
  events.push(req.getHeaders(), req.getHeaderNames(), req.hasHeader('X-A'), req.hasHeader('x-b'));
  req.end('body');
  events.push(code(() => req.setHeader('X', '1')), code(() => req.removeHeader('X-A')),
    code(() => req.appendHeader('X-A', '1')));
});
"""


def test_request_header_api_as_with_node(serve):
    """The request's header API (append, get, names, has, remove; ERR_HTTP_HEADERS_SENT
    once the head is out) and the head's order: Host first, set when the request is made."""
    st = serve(lambda server, _st: server.on("request", lambda req, res: res.end(json.dumps(req.raw_headers))))
    loop = asyncio.new_event_loop()
    events = []

    def code(fn):
        try:
            fn()
        except Exception as exc:  # the code Node's error carries
            return getattr(exc, "code", repr(exc))
        return None

    def on_response(res):
        body = []
        res.on("data", body.append)
        res.on("end", lambda: (events.append(json.loads(b"".join(body))), loop.stop()))
    req = prefork.request({"port": st.port, "host": "127.0.0.1", "agent": False, "method": "POST"}, on_response,
                          loop=loop)
    req.set_header("X-A", "1")
    req.append_header("x-a", ["2", "3"])
    req.set_header("X-B", "b")
    req.remove_header("x-b")
    events.extend([req.get_headers(), req.get_header_names(), req.has_header("X-A"), req.has_header("x-b")])
    req.end("body")
    events.extend([code(lambda: req.set_header("X", "1")), code(lambda: req.remove_header("X-A")),
                   code(lambda: req.append_header("X-A", "1"))])
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    loop.close()
    out = subprocess.run([NODE, "-e", NODE_REQUEST_HEADERS], capture_output=True, text=True, timeout=30)
    theirs = json.loads(out.stdout)
    ports = (str(st.port), theirs[0]["host"].rsplit(":", 1)[1])
    mine = json.loads(json.dumps(events).replace(ports[0], "PORT"))
    assert mine == json.loads(json.dumps(theirs).replace(ports[1], "PORT"))


NODE_FOR_AWAIT = r"""
const http = require('http');
http.get({ port: Number(process.argv[1]), host: '127.0.0.1', path: '/for-await', agent: false }, async (res) => {
  const chunks = [];
  for await (const chunk of res) chunks.push(chunk.toString());
  console.log(JSON.stringify([res.statusCode, chunks.join('').split(' on ')[0], res.complete]));
});
"""


def test_async_for_over_a_response_as_with_node(target):
    """``async for chunk in res`` is Node's ``for await (const chunk of res)``."""
    loop = asyncio.new_event_loop()

    async def main():
        res = await prefork.get({"port": target, "host": "127.0.0.1", "path": "/for-await", "agent": False},
                                loop=loop)
        chunks = [chunk async for chunk in res]
        return [res.status_code, b"".join(chunks).decode().split(" on ")[0], res.complete]
    try:
        ours = loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    out = subprocess.run([NODE, "-e", NODE_FOR_AWAIT, str(target)], capture_output=True, text=True, timeout=30)
    assert ours == json.loads(out.stdout) == [200, "/for-await", True]


def abort_events(stage):
    """prefork's twin of journey_client_abort.js."""
    loop = asyncio.new_event_loop()

    def handler(req, res):
        res.write("part")
        loop.call_later(0.3, res.end, "rest")
    server = prefork.create_server(handler, loop=loop)
    server.listen(0)
    events = []

    def on_response(res):
        events.append("response")

        def on_data(_chunk):
            events.append("data")
            if stage == "data":
                req.abort()
        res.on("data", on_data)
        res.on("end", lambda: events.append("end"))
        res.on("aborted", lambda: events.append("res.aborted"))
        res.on("error", lambda e: events.append(f"res.error:{e.code}"))
        res.on("close", lambda: events.append("res.close"))
    req = prefork.get({"port": server.address()["port"], "host": "127.0.0.1", "agent": False}, on_response, loop=loop)
    req.on("abort", lambda: events.append(f"abort:{str(req.aborted).lower()}:{str(req.destroyed).lower()}"))
    req.on("error", lambda e: events.append(f"error:{e.code}"))

    def on_socket(_socket):
        events.append("socket")
        if stage == "socket":
            req.abort()
    req.on("socket", on_socket)
    req.on("close", lambda: (events.append("close"), loop.call_later(0.1, loop.stop)))
    if stage == "now":
        req.abort()
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    server.close_all_connections()
    server.close()
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    return events


@pytest.mark.parametrize("stage", ["now", "socket", "data"])
def test_abort_as_with_node(stage):
    """Node's deprecated ``req.abort()``: ``abort``, and no 'socket hang up' before a
    socket was given; on a socket or mid-body, the events of a destroy."""
    ours = abort_events(stage)
    out = subprocess.run([NODE, os.path.join(HERE, "journey_client_abort.js"), stage], capture_output=True, text=True,
                         timeout=30)
    assert ours == json.loads(out.stdout)


NODE_ENCODINGS = r"""
const http = require('http');
const srv = http.createServer((req, res) => {
  const got = [];
  req.on('data', (d) => got.push(d));
  req.on('end', () => {
    res.write('caf\u00e9', 'latin1'); res.write('68690a', 'hex'); res.write('aGk=', 'base64');
    res.end(Buffer.concat(got).toString('hex') + '\u00e9', 'utf8', () => {});
  });
});
srv.listen(0, '127.0.0.1', () => {
  const req = http.request({ port: srv.address().port, host: '127.0.0.1', method: 'POST', agent: false }, (res) => {
    const chunks = []; res.on('data', (d) => chunks.push(d));
    res.on('end', () => { console.log(JSON.stringify(Buffer.concat(chunks).toString('hex'))); process.exit(0); });
  });
  req.write('\u00ff', 'latin1'); req.write('00ff', 'hex', () => {}); req.end('_-8', 'base64url');
});
"""


def test_write_and_end_take_an_encoding_as_with_node():
    """``write(chunk, encoding[, callback])`` and ``end(data, encoding[, callback])`` on
    both sides, with Node's encoding names."""
    loop = asyncio.new_event_loop()

    def handler(req, res):
        got = []
        req.on("data", got.append)

        def end():
            res.write("caf\u00e9", "latin1")
            res.write("68690a", "hex")
            res.write("aGk=", "base64")
            res.end(b"".join(got).hex() + "\u00e9", "utf8", lambda: None)
        req.on("end", end)
    server = prefork.create_server(handler, loop=loop)
    server.listen(0)
    out = []

    def on_response(res):
        chunks = []
        res.on("data", chunks.append)
        res.on("end", lambda: (out.append(b"".join(chunks).hex()), loop.stop()))
    req = prefork.request({"port": server.address()["port"], "host": "127.0.0.1", "method": "POST", "agent": False},
                          on_response, loop=loop)
    req.write("\u00ff", "latin1")
    req.write("00ff", "hex", lambda: None)
    req.end("_-8", "base64url")
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    server.close_all_connections()
    server.close()
    loop.close()
    theirs = subprocess.run([NODE, "-e", NODE_ENCODINGS], capture_output=True, text=True, timeout=30)
    assert out == [json.loads(theirs.stdout)]
