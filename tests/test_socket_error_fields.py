"""A read or write the kernel refuses comes out as Node's error: ``read ECONNRESET``
with ``code``, ``errno`` and ``syscall`` (Node's errno is libuv's negative number,
prefork's is Python's positive one, as docs/node-compat.md says).

Both sides, on real loopback sockets: the client whose server resets the connection
after reading the request (``req``'s ``error``), and the server whose client resets in
the middle of a head (``clientError``). Where ``node`` is installed, Node's own error
for the same exchange is the reference.
"""

import asyncio
import errno
import json
import shutil
import socket
import struct
import subprocess
import threading

import pytest

import prefork

NODE = shutil.which("node")

NODE_CLIENT = r"""
const net = require('net'), http = require('http');
const srv = net.createServer((c) => { c.once('data', () => c.resetAndDestroy()); });
srv.listen(0, '127.0.0.1', () => {
  const req = http.request({ host: '127.0.0.1', port: srv.address().port, path: '/' });
  req.on('error', (e) => { console.log(JSON.stringify([e.code, e.message, e.errno, e.syscall])); srv.close(); });
  req.end();
});
"""

NODE_SERVER = r"""
const net = require('net'), http = require('http');
const srv = http.createServer(() => {});
srv.on('clientError', (e, s) => {
  console.log(JSON.stringify([e.code, e.message, e.errno, e.syscall])); s.destroy(); srv.close();
});
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => {
    c.write('GET / HTTP/1.1\r\nHost: x\r\n');
    c.on('data', () => {});
    setTimeout(() => c.resetAndDestroy(), 50);
  });
});
"""


def node_says(script):
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30)
    code, message, number, syscall = json.loads(out.stdout.strip().splitlines()[-1])
    return code, message, -number, syscall


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def fields(err):
    return err.code, str(err), err.errno, err.syscall


def test_the_clients_error_for_a_reset_read_has_nodes_fields():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            conn.recv(65536)  # the request
            reset(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main():
        failed = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "path": "/"})
        req.on("error", lambda err: failed.done() or failed.set_result(err))
        req.end()
        return await asyncio.wait_for(failed, 5)

    try:
        err = asyncio.run(main())
    finally:
        thread.join(5)
        listener.close()
    assert fields(err) == ("ECONNRESET", "read ECONNRESET", errno.ECONNRESET, "read")
    if NODE:
        assert fields(err) == node_says(NODE_CLIENT)


def test_the_servers_client_error_for_a_reset_read_has_nodes_fields(serve):
    def setup(server, st_):
        def on_client_error(err, sock):
            st_.record("clientError", err)
            sock.destroy()
        server.on("request", lambda req, res: res.end("ok"))
        server.on("clientError", on_client_error)

    st_ = serve(setup)
    client = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = b""
    while not reply.endswith(b"ok"):  # answered: the server holds the connection
        chunk = client.recv(65536)
        assert chunk, reply
        reply += chunk
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a head the server is still waiting on
    reset(client)
    err = st_.wait_for(lambda e: e[0] == "clientError")[1]
    assert fields(err) == ("ECONNRESET", "read ECONNRESET", errno.ECONNRESET, "read")
    if NODE:
        assert fields(err) == node_says(NODE_SERVER)


@pytest.mark.parametrize("number,code", [(errno.EPIPE, "EPIPE"), (errno.ETIMEDOUT, "ETIMEDOUT"), (0, "EIO"),
                                         (None, "EIO"), (99999, "EIO")])
def test_socket_error_maps_every_oserror_to_a_code_with_its_number(number, code):
    from prefork.net.socket import socket_error
    err = socket_error(OSError(number, "x") if number is not None else OSError("x"), "write")
    assert fields(err) == (code, f"write {code}", getattr(errno, code), "write")
