"""A connection on a UNIX socket: ``socket.address()`` is ``{}`` and ``local_port``,
``local_address``, ``remote_address``, ``remote_family``, ``remote_port`` are None, as
Node's are on a pipe (undefined), instead of a path string whose ``local_port`` raised
AttributeError in a request listener. The path stays available as ``local_path``, and
an ASGI scope's ``server`` is still ``(path, None)``."""

import json
import os
import shutil
import socket
import tempfile
import threading

import pytest

import prefork
from harness import node_events, read_until_close
from prefork.runtime import new_event_loop

FIELDS = ("address", "local_port", "local_address", "remote_address", "remote_family", "remote_port")

NODE_PIPE = r"""
const p = %s;
const srv = http.createServer((req, res) => {
  const s = req.socket;
  log(s.address(), s.localPort ?? null, s.localAddress ?? null, s.remoteAddress ?? null,
      s.remoteFamily ?? null, s.remotePort ?? null);
  res.end('ok');
});
srv.listen(p, () => {
  http.get({socketPath: p, path: '/'}, (res) => { res.resume(); res.on('end', () => { srv.close(); done(); }); });
});
"""


@pytest.fixture
def short_dir():
    where = tempfile.mkdtemp(prefix="prefork-unix-")  # (sun_path is short)
    yield where
    shutil.rmtree(where, ignore_errors=True)


def prefork_fields(path):
    loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
    seen = []

    def on_request(req, res):
        sock = req.socket
        seen.append([sock.address(), *(getattr(sock, name) for name in FIELDS[1:]), sock.local_path])
        res.end("ok")
    server = prefork.create_server(on_request, loop=loop)
    server.listen(path)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        client = socket.socket(socket.AF_UNIX)
        client.settimeout(5)
        client.connect(path)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = read_until_close(client)
        client.close()
    finally:
        def stop():
            server.close()
            loop.stop()
        loop.call_soon_threadsafe(stop)
        thread.join(5)
        loop.close()
    return answer, seen


def test_a_unix_socket_connection_has_nodes_empty_address(short_dir):
    path = os.path.join(short_dir, "s.sock")
    answer, seen = prefork_fields(path)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer
    ours = seen[0]
    assert ours[-1] == path  # local_path
    theirs = node_events(NODE_PIPE % repr(os.path.join(short_dir, "n.sock")))
    assert ours[:-1] == theirs[0] == [{}, None, None, None, None, None]


def test_an_asgi_scope_on_a_unix_socket_names_the_path_as_server(short_dir, daemons):
    path = os.path.join(short_dir, "a.sock")
    daemon = daemons("--bind", f"unix:{path}", "--interface", "asgi", "--lifespan", "off",
                     app="apps.asgi_server_field:app", workers=1, bind_socket=False)
    daemon.wait_ready()
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(5)
    client.connect(path)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = read_until_close(client)
    client.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"server": [path, None], "client": None}
