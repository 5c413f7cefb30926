"""``req.set_timeout()`` called before the socket has connected arms the idle timer at the
``connect``, as Node 20's ``setSocketTimeout`` (a slow connect gives no ``timeout``),
while the ``timeout`` option's timer is armed at once and counts the connect too (Node's
``net.createConnection``). prefork armed ``set_timeout``'s timer as soon as the socket
was assigned, so a connect slower than the timeout ended the request.

A slow connect on loopback: a listener with backlog 0 whose queue is filled and never
accepted drops the client's SYN (retried after a second); accepting then lets it connect.
Node 20, same program: set_timeout -> no event while connecting, then ``connect`` and
``timeout``; the option -> ``timeout`` while connecting."""

import asyncio
import socket

import prefork


def full_listener():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(listener.getsockname())
        except BlockingIOError:
            pass
        fillers.append(filler)
    return listener, fillers


async def until(predicate, seconds):
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def test_set_timeout_does_not_count_a_slow_connect_but_the_timeout_option_does():
    listener, fillers = full_listener()
    port = listener.getsockname()[1]
    accepted = []

    async def main():
        events = {"set": [], "option": []}
        requests = {}
        for how in ("set", "option"):
            options = {"host": "127.0.0.1", "port": port, "agent": False, "path": "/" + how}
            if how == "option":
                options["timeout"] = 0.2
            req = requests[how] = prefork.get(options)
            if how == "set":
                req.set_timeout(0.2)
            log = events[how].append
            req.on("socket", lambda s, log=log: s.on("connect", lambda: log("connect")))
            req.on("timeout", lambda req=req, log=log: (log("timeout"), req.destroy()))
            req.on("error", lambda e, log=log: log("error " + e.code))
        await until(lambda: "error ECONNRESET" in events["option"], 3)
        assert events["option"] == ["timeout", "error ECONNRESET"]
        await asyncio.sleep(0.3)  # past set_timeout's 0.2 s, counted from the assignment
        assert events["set"] == []
        assert requests["set"].socket.connecting
        listener.setblocking(False)

        def drain():
            try:
                while True:
                    accepted.append(listener.accept()[0])
            except BlockingIOError:
                pass
        await until(lambda: (drain(), "timeout" in events["set"])[1], 6)  # the SYN retried, then idle
        assert events["set"][:2] == ["connect", "timeout"]
    try:
        asyncio.run(main())
    finally:
        for sock in fillers + accepted + [listener]:
            sock.close()
