"""A client listener of the app's that raises (``response``, the body's ``data``) while a
read is parsed: logged once, its connection closed, ``await req`` settled, and the agent's
socket slot free for the next request. Before, the exception escaped into the loop with
the parser left part-way: every later read of the body raised again (a log line each),
the socket stayed open and ``await req`` never settled."""

import asyncio
import logging

import prefork

BODY = b"x" * (3 << 20)  # many reads


def test_a_raising_response_listener_closes_its_connection_and_the_next_request_goes(caplog):
    async def main():
        server = prefork.create_server(lambda req, res: res.end(b"hello"))
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        try:
            def broken(res):
                raise ValueError("a bug in the app's callback")
            first = prefork.request(f"http://127.0.0.1:{port}/one", broken, agent=agent)
            first.on("error", lambda err: None)
            first.end()
            try:
                await asyncio.wait_for(first, 5)
            except (ValueError, OSError):
                pass  # settled either way: with the response, or the connection's end
            res = await asyncio.wait_for(prefork.get(f"http://127.0.0.1:{port}/two", agent=agent), 5)
            return await asyncio.wait_for(res.read(), 5)
        finally:
            agent.destroy()
            server.close()
    with caplog.at_level(logging.ERROR, logger="prefork.client"):
        assert asyncio.run(main()) == b"hello"
    assert [r.message for r in caplog.records].count("error in a client listener; closing its connection") == 1


def test_a_raising_data_listener_is_logged_once_for_a_long_body(caplog):
    async def main():
        server = prefork.create_server(lambda req, res: res.end(BODY))
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]
        try:
            closed = asyncio.get_running_loop().create_future()

            def on_response(res):
                def on_data(chunk):
                    raise RuntimeError("a bug in the app's data listener")
                res.on("data", on_data)
            req = prefork.get(f"http://127.0.0.1:{port}/", on_response, agent=False)
            req.on("error", lambda err: None)
            req.on("close", lambda: closed.done() or closed.set_result(req.destroyed))
            return await asyncio.wait_for(closed, 5)
        finally:
            server.close()
    with caplog.at_level(logging.ERROR):
        assert asyncio.run(main()) is True
    assert sum("client listener" in r.message for r in caplog.records) == 1
    assert not any("Exception in callback" in r.message for r in caplog.records)

