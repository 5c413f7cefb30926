"""An HTTP tunnelling proxy and a client that uses it, on prefork's event API.

The proxy answers CONNECT by opening a socket to the target and piping both ways; the
client sends CONNECT, then a GET through the tunnel. Run: python examples/tunnel_proxy.py
(it starts a small origin server of its own on 127.0.0.1).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork import Socket  # noqa: E402


def make_proxy(loop):
    proxy = prefork.create_server(lambda req, res: res.end("okay"), loop=loop)

    def on_connect(req, client_socket, head):
        host, _, port = req.url.rpartition(":")
        server_socket = Socket.connect(loop, host, int(port or 80))

        def connected():
            client_socket.write(b"HTTP/1.1 200 Connection Established\r\nProxy-agent: prefork-proxy\r\n\r\n")
            if head:
                server_socket.write(head)
            server_socket.pipe(client_socket)
            client_socket.pipe(server_socket)
        server_socket.on("connect", connected)
        server_socket.on("error", lambda err: client_socket.end(b"HTTP/1.1 502 Bad Gateway\r\n\r\n"))
    proxy.on("connect", on_connect)
    return proxy


def fetch_through(loop, proxy_port, target, on_done):
    """CONNECT to ``target`` through the proxy, GET / inside the tunnel; ``on_done(bytes)``."""
    req = prefork.request({"host": "127.0.0.1", "port": proxy_port, "method": "CONNECT", "path": target,
                           "agent": False}, loop=loop)

    def on_connect(res, socket, head):
        received = [head]
        host = target.split(":")[0]
        socket.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        socket.on("data", received.append)
        socket.on("end", lambda: (socket.end(), on_done(res.status_code, b"".join(received))))
    req.on("connect", on_connect)
    req.end()


def main():
    loop = asyncio.new_event_loop()
    origin = prefork.create_server(lambda req, res: res.end("hello from the origin"), loop=loop)
    origin.listen(0)
    proxy = make_proxy(loop)
    proxy.listen(0)

    def done(status, data):
        print(f"CONNECT answered {status}; through the tunnel:\n{data.decode()}")
        proxy.close()
        origin.close()
        origin.close_all_connections()
        loop.stop()
    loop.call_soon(fetch_through, loop, proxy.address()["port"], f"127.0.0.1:{origin.address()['port']}", done)
    loop.run_forever()


if __name__ == "__main__":
    main()
