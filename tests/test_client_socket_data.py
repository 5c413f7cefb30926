"""A client request's socket gives its own ``data`` listeners each read as it came,
after the parser has taken it (the request's and response's events of that read first),
as Node 20's socket does: a 1xx, the final head and the body, on a reused socket too
(a listener left from an earlier request hears the later responses; the pool keeps the
socket), and after an upgrade the raw bytes. A listener added by an event of the parser
gets the next read, not the one that brought that event. Node's program, against the
same raw server (each part sent once the client has told the server it read the last):

    const req = http.get({host: '127.0.0.1', port, agent}, (res) => {
      log('response'); res.on('data', (d) => log('res data', d)); });
    req.on('information', () => log('information'));
    req.on('socket', (s) => s.on('data', (d) => log('sock data', d)));
    // information, sock data "HTTP/1.1 100 Continue\\r\\n\\r\\n", response,
    // sock data "HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nhel", res data "hel",
    // res data "lo", sock data "lo", end
    // the next request on the kept socket: both listeners get its one read
    req.on('upgrade', (res, s, head) => s.on('data', (d) => log('upg data', d)));
    // sock data "HTTP/1.1 101 ...\\r\\n\\r\\nEXTRA" (head "EXTRA"), then sock data "MORE"
    // and upg data "MORE"
"""

import asyncio
import threading

import prefork
from test_hostile_client import RawServer, read_head


def test_a_client_sockets_data_listener_gets_each_read_after_the_parser():
    go = [threading.Event() for _ in range(3)]

    def serve(conn, index):
        read_head(conn)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        go[0].wait(5)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")
        go[1].wait(5)
        conn.sendall(b"lo")
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
        read_head(conn)
    server = RawServer(serve)
    events = []

    async def exchange(agent, index, first_read):
        done = asyncio.get_running_loop().create_future()
        req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": agent})

        def on_response(res):
            events.append((index, "response"))
            res.socket.on("data", lambda data: events.append((index, "late data", data)))
            res.on("data", lambda data: events.append((index, "res data", data)))
            res.on("end", lambda: done.set_result(True))

        def on_socket(socket):
            def on_data(data):
                events.append((index, "sock data", data))
                if data == first_read:
                    go[0].set()
                elif data.endswith(b"hel"):
                    go[1].set()
            socket.on("data", on_data)
        req.on("socket", on_socket)
        req.on("information", lambda info: events.append((index, "information")))
        req.on("response", on_response)
        await asyncio.wait_for(done, 5)
        return req.socket or agent

    async def main():
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        try:
            await exchange(agent, 0, b"HTTP/1.1 100 Continue\r\n\r\n")
            await exchange(agent, 1, None)
            assert server.accepted == 1  # (the pool kept the socket: its own listener did not close it)
        finally:
            agent.destroy()
    try:
        asyncio.run(main())
    finally:
        server.close()
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    assert events == [
        (0, "information"), (0, "sock data", b"HTTP/1.1 100 Continue\r\n\r\n"),
        (0, "response"), (0, "sock data", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"),
        (0, "res data", b"hel"),
        (0, "res data", b"lo"), (0, "sock data", b"lo"), (0, "late data", b"lo"),
        (1, "response"), (0, "sock data", second), (0, "late data", second), (1, "sock data", second),
        (1, "res data", b"abc")]


def test_after_an_upgrade_the_sockets_listener_has_the_whole_read_and_the_new_one_what_follows():
    more = threading.Event()

    def serve(conn, index):
        read_head(conn)
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nEXTRA")
        more.wait(5)
        conn.sendall(b"MORE")
    server = RawServer(serve)
    events = []

    async def main():
        done = asyncio.get_running_loop().create_future()
        req = prefork.request({"host": "127.0.0.1", "port": server.port,
                               "headers": {"Connection": "Upgrade", "Upgrade": "x"}})
        req.on("socket", lambda socket: socket.on("data", lambda data: events.append(("sock data", data))))

        def on_upgrade(res, socket, head):
            events.append(("upgrade", head))
            socket.on("data", lambda data: events.append(("upg data", data)))
            socket.on("end", lambda: done.set_result(True))
            more.set()
        req.on("upgrade", on_upgrade)
        req.end()
        try:
            await asyncio.wait_for(done, 5)
        finally:
            req.socket.destroy()
    try:
        asyncio.run(main())
    finally:
        server.close()
    assert events == [
        ("upgrade", b"EXTRA"),
        ("sock data", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nEXTRA"),
        ("sock data", b"MORE"), ("upg data", b"MORE")]
