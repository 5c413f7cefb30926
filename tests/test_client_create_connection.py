"""``create_connection``, Node's ``createConnection``: a request option (without an
agent: that function makes the request's socket, used once, as Node's option) and
an ``Agent`` method a subclass (or an instance attribute) replaces (the pool's new
connections, kept alive and reused as any other). It gets the request's ``host``,
``port``, ``socket_path`` and ``loop``, and returns a ``prefork.net.Socket``; what it
raises (or a return that is no socket) fails the request: ``error``, then ``close``."""

import asyncio
import json

import prefork
from harness import node_events
from prefork.net import Socket
from test_hostile_client import RawServer, read_head


def echo_head(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        body = head.split(b"\r\n\r\n")[0].split(b"\r\n", 1)[1]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


NODE = """
const port = %d;
let seen = null;
http.get({host: 'example.invalid', port: 1, path: '/', createConnection: (opts) => {
  seen = [opts.host, opts.port];
  return net.connect(port, '127.0.0.1');
}}, (res) => {
  let body = '';
  res.on('data', (d) => body += d);
  res.on('end', () => { log(seen, body.split('\\r\\n')); done(); });
});
"""


def test_the_option_makes_the_requests_socket_as_in_node():
    srv = RawServer(echo_head)

    async def main():
        seen = []

        def create_connection(options):
            seen.append([options["host"], options["port"]])
            return Socket.connect(options["loop"], "127.0.0.1", srv.port)
        req = prefork.get({"host": "example.invalid", "port": 1, "path": "/", "create_connection": create_connection})
        res = await asyncio.wait_for(req, 4)
        body = await asyncio.wait_for(res.read(), 4)
        return [seen[0], body.decode().split("\r\n")]
    try:
        [node] = node_events(NODE % srv.port)
        ours = asyncio.run(main())
    finally:
        srv.close()
    assert node == [["example.invalid", 1], ["Host: example.invalid:1", "Connection: close"]]
    assert json.loads(json.dumps(ours)) == node


class Counting(prefork.Agent):
    def __init__(self, port):
        super().__init__(keep_alive=True)
        self.target = port
        self.made = []

    def create_connection(self, options):
        self.made.append(options["host"])
        return Socket.connect(options["loop"], "127.0.0.1", self.target)


def test_an_agents_connections_are_made_by_its_create_connection_and_reused():
    srv = RawServer(echo_head)

    async def main():
        agent = Counting(srv.port)
        bodies = []
        for _ in range(2):
            res = await asyncio.wait_for(prefork.get({"host": "app.invalid", "port": 8080, "agent": agent}), 4)
            bodies.append(await asyncio.wait_for(res.read(), 4))
            while not agent.free_sockets:
                await asyncio.sleep(0.01)
        agent.destroy()
        return agent.made, bodies
    try:
        made, bodies = asyncio.run(asyncio.wait_for(main(), 8))
    finally:
        srv.close()
    assert made == ["app.invalid"]
    assert bodies == [b"Host: app.invalid:8080\r\nConnection: keep-alive"] * 2
    assert srv.accepted == 1


def failing_request(create_connection):
    async def main():
        loop = asyncio.get_running_loop()
        events, closed = [], loop.create_future()
        req = prefork.get({"host": "127.0.0.1", "port": 1, "create_connection": create_connection})
        req.on("error", lambda err: events.append(("error", getattr(err, "code", None), str(err))))
        req.on("close", lambda: (events.append(("close",)), closed.set_result(None)))
        await asyncio.wait_for(closed, 4)
        try:
            await req
        except Exception as exc:
            events.append(("raised", type(exc).__name__))
        return events
    return asyncio.run(main())


def test_what_create_connection_raises_fails_the_request():
    def refuse(options):
        err = RuntimeError("no route for this one")
        err.code = "EX"
        raise err
    assert failing_request(refuse) == [("error", "EX", "no route for this one"), ("close",), ("raised", "RuntimeError")]


def test_a_create_connection_that_returns_no_socket_fails_the_request():
    events = failing_request(lambda options: object())
    assert [e[:2] for e in events[:2]] == [("error", "ERR_INVALID_RETURN_VALUE"), ("close",)]
