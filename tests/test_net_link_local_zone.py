"""A link-local IPv6 address names its zone, as Node v20 spells it: ``fe80::1%eth0``
for ``remoteAddress``, ``localAddress`` and ``socket.address()``, on the server's
connection and on a client's socket. prefork dropped the zone (``fe80::1``): an app
that connects back to the peer, or logs it for an operator, has an address no client can
reach as written (the kernel cannot tell the interface).

The same scenario runs on Node and on prefork (a server on the host's link-local
address, a client connecting to it); both must print the same."""

import ipaddress
import socket
import threading

from harness import node_events, run_loop
import prefork
from prefork import Socket
from prefork.runtime import new_event_loop


def link_local():
    """``fe80::...%IFACE`` of this host."""
    with open("/proc/net/if_inet6") as table:
        for line in table:
            hexa, *_, name = line.split()
            if hexa.startswith("fe80"):
                return f"{ipaddress.IPv6Address(bytes.fromhex(hexa))}%{name}"
    raise AssertionError("this test needs a link-local IPv6 address on the host (/proc/net/if_inet6)")


def exchange_on_link_local(setup, request):
    """A server on this host's link-local address, given to ``setup(server)``, sent
    ``request`` by a plain client socket: (host with its zone, the reply read to its close,
    the client's port, the server's port)."""
    host = link_local()
    loop = new_event_loop()
    server = prefork.create_server(loop=loop)
    setup(server)
    ready = threading.Event()
    server.listen(0, host, ready.set)
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        assert ready.wait(5)
        port = server.address()["port"]
        address = socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_STREAM)[0][4]
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(address)
            client.sendall(request)
            reply = b""
            while chunk := client.recv(4096):
                reply += chunk
            mine = client.getsockname()
    finally:
        loop.call_soon_threadsafe(lambda: (server.close_all_connections(), server.close(), loop.stop()))
        thread.join(5)
        loop.close()
    return host, reply, mine[1], port


NODE = r"""
const host = process.argv[1];
const s = http.createServer((req, res) => {
  const k = req.socket;
  log('server', k.remoteAddress, k.remoteFamily, k.localAddress, k.address().address);
  res.end('ok');
});
s.listen(0, HOST, () => {
  const c = net.connect({host: HOST, port: s.address().port}, () => {
    log('client', c.remoteAddress, c.localAddress, c.address().address);
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  c.on('data', () => {});
  c.on('close', () => { s.close(); done(); });
});
"""


def test_link_local_addresses_name_their_zone_as_node_does():
    host = link_local()
    expected = node_events(NODE.replace("HOST", repr(host)))
    loop = new_event_loop()
    events = []
    server = prefork.create_server(loop=loop)

    def on_request(req, res):
        k = req.socket
        events.append(["server", k.remote_address, k.remote_family, k.local_address, k.address()["address"]])
        res.end("ok")
    server.on("request", on_request)

    def listening():
        client = Socket.connect(loop, host, server.address()["port"])

        def on_connect():
            events.append(["client", client.remote_address, client.local_address, client.address()["address"]])
            client.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        client.on("connect", on_connect)
        client.on("data", lambda data: None)
        client.on("close", lambda *a: (server.close(), loop.stop()))
    server.listen(0, host, listening)
    try:
        run_loop(loop)
    finally:
        server.close_all_connections()
        loop.close()
    assert expected == [["client", host, host, host], ["server", host, "IPv6", host, host]]
    assert events == expected
