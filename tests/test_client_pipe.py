"""``res.pipe(destination)`` on the client's response, as Node's reverse-proxy idiom uses
it: ``upstream_res.pipe(res)`` with ``req.pipe(upstream_req)``, backpressure both ways,
on one loop with real sockets."""

import asyncio
import contextlib

import prefork

BODY = bytes(range(256)) * 8192  # 2 MiB: many reads, and writes that say wait


def test_a_proxy_pipes_the_request_up_and_the_response_back():
    async def main():
        def echo(req, res):
            res.set_header("X-Upstream", "yes")
            req.pipe(res)
        upstream = prefork.create_server(echo)
        upstream.listen(0, "127.0.0.1")
        up_port = upstream.address()["port"]

        def proxy_request(req, res):
            def answered(ures):
                res.write_head(ures.status_code, {"X-Upstream": ures.headers.get("x-upstream", "")})
                ures.pipe(res)
            preq = prefork.request({"host": "127.0.0.1", "port": up_port, "method": req.method, "path": req.url,
                                    "agent": False}, answered)
            preq.on("error", lambda err: res.destroy())
            req.pipe(preq)
        proxy = prefork.create_server(proxy_request)
        proxy.listen(0, "127.0.0.1")
        try:
            req = prefork.request({"host": "127.0.0.1", "port": proxy.address()["port"], "method": "POST",
                                   "path": "/echo", "agent": False})
            req.end(BODY)
            res = await asyncio.wait_for(req, 10)
            body = await asyncio.wait_for(res.read(), 10)
            return res.status_code, res.headers.get("x-upstream"), body
        finally:
            proxy.close()
            upstream.close()
    status, header, body = asyncio.run(main())
    assert (status, header) == (200, "yes")
    assert body == BODY


@contextlib.asynccontextmanager
async def slow_server(seconds, agent_timeout):
    """(port, agent): a server that answers b"late" after ``seconds``, and a keep-alive
    agent with ``agent_timeout``; both gone at the block's end."""
    async def slow(req, res):
        await asyncio.sleep(seconds)
        res.end(b"late")
    server = prefork.create_server(slow)
    server.listen(0, "127.0.0.1")
    agent = prefork.Agent(keep_alive=True, timeout=agent_timeout)
    try:
        yield server.address()["port"], agent
    finally:
        agent.destroy()
        server.close_all_connections()
        server.close()


def test_an_agent_timeout_is_the_idle_timeout_of_its_sockets_in_use_too():
    """Node's ``new Agent({timeout})`` sets it on the sockets it makes: a request waiting on
    a silent server gets ``timeout`` (the usual ``req.on('timeout', req.destroy)`` guard
    works); the global agent has Node's 5 s; an agent made without one has none."""
    from prefork.client.agent import global_agent

    async def main():
        loop = asyncio.get_running_loop()
        async with slow_server(3, agent_timeout=0.2) as (port, agent):
            started = loop.time()
            timed_out = loop.create_future()
            req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent})
            req.on("timeout", lambda: (timed_out.done() or timed_out.set_result(loop.time() - started), req.destroy()))
            req.on("error", lambda err: None)
            return await asyncio.wait_for(timed_out, 2)
    assert 0.15 < asyncio.run(main()) < 1.5
    assert global_agent.socket_timeout == 5.0 and prefork.Agent().socket_timeout is None


def test_a_response_awaited_then_piped_sends_the_whole_body_and_ends():
    """``ures = await prefork.get(...)`` then ``ures.pipe(res)``: the body kept for
    ``read()`` since the await goes first (a small one already ended ends the
    destination), as a proxy written with await needs."""
    async def main():
        bodies = {"/small": b"hello", "/large": BODY * 2}
        upstream = prefork.create_server(lambda req, res: res.end(bodies[req.url]))
        upstream.listen(0, "127.0.0.1")
        up = upstream.address()["port"]

        async def proxy_request(req, res):
            ures = await prefork.get({"host": "127.0.0.1", "port": up, "path": req.url, "agent": False})
            if req.url == "/small":  # piped once its whole body is in (kept for read())
                deadline = asyncio.get_running_loop().time() + 5
                while not ures.complete and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.005)
            res.status_code = ures.status_code
            ures.pipe(res)
        proxy = prefork.create_server(proxy_request)
        proxy.listen(0, "127.0.0.1")
        try:
            got = {}
            for path in bodies:
                res = await asyncio.wait_for(prefork.get({"host": "127.0.0.1", "port": proxy.address()["port"],
                                                          "path": path, "agent": False}), 10)
                got[path] = await asyncio.wait_for(res.read(), 10)
            return got == bodies
        finally:
            proxy.close()
            upstream.close()
    assert asyncio.run(main())


def test_a_request_timeout_of_0_turns_the_agent_timeout_off():
    async def main():
        events = []
        async with slow_server(0.5, agent_timeout=0.1) as (port, agent):
            req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent, "timeout": 0})
            req.on("timeout", lambda: events.append("timeout"))
            res = await asyncio.wait_for(req, 5)
            events.append(await res.read())
            return events
    assert asyncio.run(main()) == [b"late"]


def test_a_socket_handed_to_the_next_request_in_line_drops_the_timeout_of_the_one_before():
    """``max_sockets=1``: A sets its own timeout, B waits in line and takes A's socket;
    B (no timeout of its own, the agent none) gets no ``timeout`` from A's."""
    async def main():
        async def answer(req, res):
            if req.url == "/b":
                await asyncio.sleep(0.4)
            res.end(req.url.encode())
        server = prefork.create_server(answer)
        server.listen(0, "127.0.0.1")
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        events = []
        try:
            port = server.address()["port"]
            first = prefork.get({"host": "127.0.0.1", "port": port, "path": "/a", "agent": agent})
            first.set_timeout(0.15)
            second = prefork.get({"host": "127.0.0.1", "port": port, "path": "/b", "agent": agent})
            second.on("timeout", lambda: events.append("timeout"))
            res = await asyncio.wait_for(first, 5)
            events.append(await res.read())
            res = await asyncio.wait_for(second, 5)
            events.append(await res.read())
            return events
        finally:
            agent.destroy()
            server.close()
    assert asyncio.run(main()) == [b"/a", b"/b"]
