"""A request over a UNIX socket (``socket_path``) connects to its path whatever its
``port`` or ``default_port``: they are not checked (a "abc" or -5 once raised a bare
ValueError from ``int()`` at ``request()``) and its Host field has them as given
(left out only when the port is, as a number, the default port), as Node's client
writes them. Compared with Node's client against the same UNIX server."""

import asyncio
import json
import os
import socket
import subprocess
import tempfile
import threading

import prefork
from harness import need_node
from prefork.client import Agent

CASES = [{"port": "abc"}, {"default_port": "abc"}, {"port": -5}, {"port": 8080}]

NODE_SCRIPT = r"""
const http = require('http');
const path = process.argv[1];
const cases = JSON.parse(process.argv[2]).map((c) => 'default_port' in c ? {defaultPort: c.default_port} : c);
(async () => {
  const out = [];
  for (const c of cases) await new Promise((r) => {
    try {
      http.get({socketPath: path, agent: false, ...c}, (res) => { res.resume(); res.on('end', r); })
        .on('error', (e) => { out.push(['error', e.code]); r(); });
    } catch (e) { out.push(['throw', e.code]); r(); }
  });
  console.log(JSON.stringify(out));
})();
"""


class HostServer:
    """Answers each request on the UNIX socket ``path``, keeping its Host field."""

    def __init__(self, path):
        self.hosts = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.hosts.append([line[6:] for line in data.decode("latin-1").split("\r\n")
                                   if line.lower().startswith("host: ")])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # (wakes the accept)
        self.sock.close()
        self.thread.join(10)


def prefork_run(path):
    out = []

    async def main():
        for case in CASES:
            try:
                req = prefork.get({"socket_path": path, "agent": False, **case})
            except Exception as err:
                out.append(["throw", getattr(err, "code", repr(err))])
                continue
            res = await asyncio.wait_for(req.response(), 5)
            await asyncio.wait_for(res.read(), 5)
    asyncio.run(main())
    return out


def test_a_unix_socket_requests_port_is_unchecked_and_written_as_given_as_nodes():
    node = need_node()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s")
        srv = HostServer(path)
        try:
            got = subprocess.run([node, "-e", NODE_SCRIPT, "--", path, json.dumps(CASES)], capture_output=True,
                                 timeout=30, text=True)
            node_hosts, srv.hosts = srv.hosts, []
            ours = prefork_run(path)
            our_hosts = srv.hosts
        finally:
            srv.close()
    assert json.loads(got.stdout) == [] == ours, got.stderr
    assert our_hosts == node_hosts == [["localhost:abc"], ["localhost:abc"], ["localhost:-5"], ["localhost:8080"]]


def test_get_name_names_a_unix_socket_request_as_its_pool_does():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s")
        srv = HostServer(path)
        agent = Agent(keep_alive=True)
        names = []

        async def main():
            for case in ({"port": "abc"}, {"default_port": "abc"}, {}, {"port": "8080"}):
                options = {"socket_path": path, "agent": agent, **case}
                req = prefork.get(options)
                req.on("socket", lambda socket: names.append((agent.get_name(options), list(agent.sockets))))
                res = await asyncio.wait_for(req.response(), 5)
                await asyncio.wait_for(res.read(), 5)
        try:
            asyncio.run(main())
        finally:
            agent.destroy()
            srv.close()
    assert [name for name, _ in names] == [f"localhost:{port}:{path}" for port in ("abc", "abc", 80, "8080")]
    assert all(pooled == [name] for name, pooled in names)
