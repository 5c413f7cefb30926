"""A client socket's remote address, port and family are None while it connects (Node's
``remoteAddress``, ``remotePort`` and ``remoteFamily`` are undefined then), the peer's
once connected (as the kernel names it: ``0:0::1`` is ``::1``), and stay None after a
connect that failed (the error still names the address tried)."""

import asyncio
import socket

import prefork
from prefork.net import Socket


def listener(family=socket.AF_INET, host="127.0.0.1"):
    sock = socket.socket(family)
    sock.bind((host, 0))
    sock.listen(8)
    return sock


def test_a_socket_has_no_remote_address_until_it_is_connected():
    server = listener()
    port = server.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        sock = Socket.connect(loop, "127.0.0.1", port)
        seen = [("called", sock.remote_address, sock.remote_port, sock.remote_family)]
        connected = loop.create_future()
        sock.on("connect", lambda: connected.set_result(
            (sock.remote_address, sock.remote_port, sock.remote_family)))
        seen.append(("connect", *await asyncio.wait_for(connected, 5)))
        sock.destroy()
        return seen

    try:
        assert asyncio.run(main()) == [("called", None, None, None), ("connect", "127.0.0.1", port, "IPv4")]
    finally:
        server.close()


def test_an_address_literal_is_named_as_the_kernel_names_the_peer():
    server = listener(socket.AF_INET6, "::1")
    port = server.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        sock = Socket.connect(loop, "0:0::1", port)
        connected = loop.create_future()
        sock.on("connect", lambda: connected.set_result((sock.remote_address, sock.remote_family)))
        got = await asyncio.wait_for(connected, 5)
        sock.destroy()
        return got

    try:
        assert asyncio.run(main()) == ("::1", "IPv6")
    finally:
        server.close()


def test_a_refused_connect_leaves_no_remote_address_and_its_error_names_the_target():
    free = listener()
    port = free.getsockname()[1]
    free.close()  # (nobody listens there now: refused)

    async def main():
        loop = asyncio.get_running_loop()
        sock = Socket.connect(loop, "127.0.0.1", port)
        failed = loop.create_future()
        sock.on("error", failed.set_result)
        err = await asyncio.wait_for(failed, 5)
        return err.code, err.address, err.port, str(err), sock.remote_address, sock.remote_port

    assert asyncio.run(main()) == ("ECONNREFUSED", "127.0.0.1", port, f"connect ECONNREFUSED 127.0.0.1:{port}",
                                   None, None)


def test_a_client_request_socket_has_no_remote_address_at_its_socket_event():
    server = listener()
    port = server.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent})
        given = loop.create_future()
        req.on("socket", lambda s: given.set_result((s.connecting, s.remote_address, s.remote_port)))
        req.on("error", lambda err: None)
        got = await asyncio.wait_for(given, 5)
        req.destroy()
        agent.destroy()
        return got

    try:
        assert asyncio.run(main()) == (True, None, None)
    finally:
        server.close()
