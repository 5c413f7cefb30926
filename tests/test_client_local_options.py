"""Where a request connects from and how its host is resolved, as Node's
``http.request`` options: ``local_address`` and ``local_port`` (localAddress,
localPort) bind the socket first, ``family`` (4, 6) limits what a name resolves to,
``lookup`` replaces the resolver (called with Node's arguments; its error is the
request's ``error`` as it is). A bind that fails is ``error`` with Node's fields
(``bind EADDRNOTAVAIL 192.0.2.7``). Node's client against the same server on loopback."""

import asyncio
import json
import socket
import threading

import pytest

import prefork
from harness import need_node, node_events

NODE_RUN = r"""
const targets = %s;
const lookups = {
  fails: (host, opts, cb) => { log('lookup', host, opts); const e = new Error('no such name'); e.code = 'EBOOM'; cb(e); },
  loopback: (host, opts, cb) => {
    log('lookup', host, opts);
    if (opts.all) cb(null, [{address: '127.0.0.1', family: 4}]); else cb(null, '127.0.0.1', 4);
  },
  garbage: (host, opts, cb) => { log('lookup', host, opts); cb(null, [{address: 'nonsense', family: 4}]); },
  six: (host, opts, cb) => { log('lookup', host, opts); cb(null, '::1', 6); },
};
const next = (i) => {
  if (i === targets.length) return done();
  const options = Object.assign({agent: false}, targets[i]);
  if (options.lookup) options.lookup = lookups[options.lookup];
  let req;
  try {
    req = http.get(options, (res) => {
      const local = [res.socket.localAddress, res.socket.localPort === options.localPort, res.socket.remoteFamily];
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { log('ok', ...local, body); next(i + 1); });
    });
  } catch (e) { log('throws', e.code); return next(i + 1); }
  req.on('error', (e) => { log('error', e.code, e.message, e.syscall || null, e.address || null, e.port || null); next(i + 1); });
};
next(0);
"""

LOOKUPS = {
    "fails": lambda calls: lambda host, opts, cb: (calls.append(["lookup", host, opts]), cb(_coded("EBOOM"))),
    "loopback": lambda calls: lambda host, opts, cb: (calls.append(["lookup", host, opts]),
                                                     cb(None, [{"address": "127.0.0.1", "family": 4}])
                                                     if opts.get("all") else cb(None, "127.0.0.1", 4)),
    "garbage": lambda calls: lambda host, opts, cb: (calls.append(["lookup", host, opts]),
                                                    cb(None, [{"address": "nonsense", "family": 4}])),
    "six": lambda calls: lambda host, opts, cb: (calls.append(["lookup", host, opts]), cb(None, "::1", 6)),
}


def _coded(code):
    err = OSError("no such name")
    err.code = code
    return err


def prefork_run(targets):
    async def main():
        out = []
        for target in targets:
            options = {"agent": False}
            for name, value in target.items():
                options[{"localAddress": "local_address", "localPort": "local_port"}.get(name, name)] = value
            if isinstance(options.get("lookup"), str):
                options["lookup"] = LOOKUPS[options["lookup"]](out)
            local = []

            def on_response(res, local=local, wanted=options.get("local_port")):
                # (the socket as the response begins: Node's test reads it there too)
                local[:] = [res.socket.local_address, res.socket.local_port == wanted, res.socket.remote_family]
            try:
                req = prefork.get(options, on_response)
            except Exception as err:
                out.append(["throws", err.code])
                continue
            try:
                res = await asyncio.wait_for(req.response(), 5)
                body = (await asyncio.wait_for(res.read(), 5)).decode()
                out.append(["ok", *local, body])
            except asyncio.TimeoutError:
                out.append(["no end"])
            except Exception as err:
                out.append(["error", err.code, str(err), getattr(err, "syscall", None),
                            getattr(err, "address", None), getattr(err, "port", None)])
        return out
    return asyncio.run(main())


@pytest.fixture
def peer_server():
    """A dual-stack server on loopback that answers each request with the address it
    came from (IPv4 ones as ``::ffff:`` addresses, as Node's server gives them)."""
    listener = socket.socket(socket.AF_INET6)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", 0))
    listener.listen(64)
    listener.settimeout(0.1)  # (the accept loop looks at ``stop`` this often)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                body = peer[0].encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def free_port():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return held.getsockname()[1]


def compare(targets):
    need_node()
    theirs = node_events(NODE_RUN % json.dumps(targets))
    ours = prefork_run(targets)
    assert json.loads(json.dumps(ours)) == theirs
    return ours


def test_local_address_port_and_family_connect_as_nodes(peer_server):
    port = peer_server
    targets = [{"host": "127.0.0.1", "port": port, "localAddress": "127.0.0.2"},
               {"host": "127.0.0.1", "port": port, "localPort": free_port()},
               {"host": "::1", "port": port},
               {"host": "::1", "port": port, "family": 4},  # (a literal connects as it is)
               {"host": "localhost", "port": port, "family": 4},
               {"host": "localhost", "port": port, "localAddress": "127.0.0.2"}]
    ours = compare(targets)
    assert ours[0] == ["ok", "127.0.0.2", False, "IPv4", "::ffff:127.0.0.2"]
    assert ours[1][:2] == ["ok", "127.0.0.1"] and ours[1][2] is True
    assert ours[2] == ["ok", "::1", False, "IPv6", "::1"]


def test_localhost_of_family_6_resolves_as_nodes(peer_server):
    # (ENOTFOUND where the hosts file has no ::1 for localhost; a connection where it has)
    compare([{"host": "localhost", "port": peer_server, "family": 6}])


def test_a_bind_that_fails_is_the_requests_error_with_nodes_fields(peer_server):
    port = peer_server
    ours = compare([{"host": "127.0.0.1", "port": port, "localAddress": "192.0.2.7"},
                    {"host": "127.0.0.1", "port": port, "localAddress": "::1"},
                    {"host": "127.0.0.1", "port": port, "localPort": port}])
    assert ours[0] == ["error", "EADDRNOTAVAIL", "bind EADDRNOTAVAIL 192.0.2.7", "bind", "192.0.2.7", None]
    assert ours[1][:2] == ["error", "EINVAL"]
    assert ours[2] == ["error", "EADDRINUSE", f"bind EADDRINUSE 0.0.0.0:{port}", "bind", "0.0.0.0", port]


def test_a_lookup_function_resolves_the_name_as_nodes(peer_server):
    port = peer_server
    ours = compare([{"host": "foo.test", "port": port, "lookup": "fails"},
                    {"host": "foo.test", "port": port, "lookup": "loopback"},
                    {"host": "foo.test", "port": port, "lookup": "loopback", "localAddress": "127.0.0.2"},
                    {"host": "foo.test", "port": port, "lookup": "garbage"},
                    {"host": "foo.test", "port": port, "lookup": "six", "family": 6},
                    {"host": "127.0.0.1", "port": port, "lookup": "fails"}])  # (a literal: no lookup)
    assert ours[0] == ["lookup", "foo.test", {"hints": socket.AI_ADDRCONFIG, "all": True}]
    assert ours[1][:2] == ["error", "EBOOM"]


def test_options_node_refuses_are_refused_at_once():
    need_node()
    targets = [{"host": "127.0.0.1", "port": 9, "localAddress": "localhost"},
               {"host": "127.0.0.1", "port": 9, "localAddress": 5},
               {"host": "localhost", "port": 9, "family": 5},
               {"host": "localhost", "port": 9, "lookup": 5},
               {"host": "127.0.0.1", "port": 9, "localPort": "80"},
               {"host": "localhost", "port": 9, "hints": 1024},
               {"host": "localhost", "port": 9, "hints": "x"}]
    theirs = node_events(NODE_RUN.replace("if (options.lookup) ", "if (typeof options.lookup === 'string') ")
                         % json.dumps(targets))
    ours = prefork_run(targets)
    assert theirs == [["throws", "ERR_INVALID_IP_ADDRESS"], ["throws", "ERR_INVALID_IP_ADDRESS"],
                      ["throws", "ERR_INVALID_ARG_VALUE"], ["throws", "ERR_INVALID_ARG_TYPE"],
                      ["throws", "ERR_INVALID_ARG_TYPE"], ["throws", "ERR_INVALID_ARG_VALUE"],
                      ["throws", "ERR_INVALID_ARG_TYPE"]]
    assert ours == theirs


def test_hints_reach_the_resolver_as_nodes(peer_server):
    port = peer_server
    ours = compare([{"host": "localhost", "port": port, "hints": socket.AI_ADDRCONFIG | socket.AI_V4MAPPED},
                    {"host": "foo.test", "port": port, "hints": 1024, "lookup": "loopback"}])
    assert ours[0][0] == "ok" and ours[1] == ["lookup", "foo.test", {"hints": 1024, "all": True}]


NODE_POOL = r"""
const agent = new http.Agent({keepAlive: true});
const srv = http.createServer((req, res) => res.end(req.socket.remoteAddress + ' ' + req.socket.remotePort));
srv.listen(0, '::', () => {
  const port = srv.address().port;
  const targets = %s;
  const seen = {};
  const next = (i) => {
    if (i === targets.length) { agent.destroy(); srv.close(); return done(); }
    http.get(Object.assign({port, agent}, targets[i]), (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const [address, remote] = body.split(' ');
        if (!(remote in seen)) seen[remote] = Object.keys(seen).length;
        log(address, seen[remote]);
        setImmediate(next, i + 1);
      });
    });
  };
  next(0);
});
"""


def test_the_agent_pools_sockets_by_local_address_and_family():
    need_node()
    targets = [{"host": "127.0.0.1", "localAddress": "127.0.0.2"}, {"host": "127.0.0.1"},
               {"host": "127.0.0.1", "localAddress": "127.0.0.2"}, {"host": "127.0.0.1"},
               {"host": "localhost", "family": 4}, {"host": "localhost"}, {"host": "localhost", "family": 4}]
    theirs = node_events(NODE_POOL % json.dumps(targets))
    assert [t[1] for t in theirs] == [0, 1, 0, 1, 2, 3, 2]

    async def main():
        seen, out = {}, []
        agent = prefork.Agent(keep_alive=True)
        server = prefork.create_server(
            lambda req, res: res.end(f"{req.socket.remote_address} {req.socket.remote_port}"))
        ready = asyncio.get_running_loop().create_future()
        server.listen(0, "::", lambda: ready.set_result(None))
        await ready
        port = server.address()["port"]
        for target in targets:
            options = {"local_address" if k == "localAddress" else k: v for k, v in target.items()}
            res = await prefork.get({"port": port, "agent": agent, **options})
            address, remote = (await res.read()).decode().split(" ")
            out.append([address, seen.setdefault(remote, len(seen))])
        agent.destroy()
        server.close()
        return out
    assert asyncio.run(main()) == theirs
