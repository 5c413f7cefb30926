"""A client listener that raises on a loop turn of its own (the request's ``error``,
``abort``, ``close``, ``drain`` and ``finish``; the response's ``close``, ``error`` and, for a body the
connection cut short, ``aborted``) is logged on the ``prefork.client`` logger with its
traceback, as the client's other raising listeners are (not by asyncio's handler of a
callback's exception), and the exchange still closes."""

import asyncio
import logging
import socket
import threading

import prefork


def boom(*args):
    raise RuntimeError("boom")


def run_logged(caplog, main):
    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    client = [r for r in caplog.records if r.name == "prefork.client"]
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text
    return client


async def serving():
    server = prefork.create_server(lambda req, res: res.end("hello"))
    server.listen(0)
    await asyncio.sleep(0)
    return server, server.address()["port"]


def test_a_raising_error_listener_of_a_request_is_logged_and_the_request_closes(caplog):
    async def main():
        with socket.socket() as unused:  # bound, never listening: the connect is refused
            unused.bind(("127.0.0.1", 0))
            req = prefork.get(f"http://127.0.0.1:{unused.getsockname()[1]}/", agent=False)
            closed = asyncio.get_running_loop().create_future()
            req.on("error", boom)
            req.on("close", lambda: closed.set_result(True))
            assert await asyncio.wait_for(closed, 5)
    records = run_logged(caplog, main)
    assert [r.getMessage() for r in records] == ["error in a client 'error' listener"]
    assert "RuntimeError: boom" in caplog.text and "Traceback" in caplog.text


def test_a_raising_abort_listener_is_logged(caplog):
    async def main():
        server, port = await serving()
        try:
            req = prefork.get(f"http://127.0.0.1:{port}/", agent=False)
            closed = asyncio.get_running_loop().create_future()
            req.on("abort", boom)
            req.on("close", lambda: closed.set_result(True))
            req.abort()
            assert await asyncio.wait_for(closed, 5)
            await asyncio.sleep(0)  # (the 'abort' comes on the turn after the close)
        finally:
            server.close()
    records = run_logged(caplog, main)
    assert [r.getMessage() for r in records] == ["error in a client 'abort' listener"]


def test_a_raising_close_listener_of_a_response_is_logged(caplog):
    async def main():
        server, port = await serving()
        try:
            req = prefork.get(f"http://127.0.0.1:{port}/", agent=False)
            closed = asyncio.get_running_loop().create_future()

            def on_response(res):
                res.on("close", lambda: closed.set_result(True))
                res.on("close", boom)
                res.resume()
            req.on("response", on_response)
            await asyncio.wait_for(closed, 5)
            await asyncio.sleep(0)  # (the emit goes on to the raising listener after the first)
        finally:
            server.close()
    records = run_logged(caplog, main)
    assert [r.getMessage() for r in records] == ["error in a client 'close' listener"]
    assert "RuntimeError: boom" in caplog.text


def test_a_raising_aborted_listener_still_lets_the_request_and_response_close(caplog):
    listening = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listening.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")  # cut short
        conn.close()
    thread = threading.Thread(target=serve)
    thread.start()
    events = []

    async def main():
        req = prefork.get(f"http://127.0.0.1:{listening.getsockname()[1]}/", agent=False)
        closed = asyncio.get_running_loop().create_future()

        def on_response(res):
            res.on("aborted", boom)
            res.on("error", lambda err: events.append(("error", str(err))))
            res.on("close", lambda: closed.set_result(True))
            res.resume()
        req.on("response", on_response)
        req.on("close", lambda: events.append("request close"))
        assert await asyncio.wait_for(closed, 5)
    try:
        records = run_logged(caplog, main)
    finally:
        thread.join(5)
        listening.close()
    assert [r.getMessage() for r in records] == ["error in a client 'aborted' listener"]
    assert events == ["request close", ("error", "aborted")]


def test_a_raising_drain_listener_is_logged_and_the_request_still_completes(caplog):
    async def main():
        def handler(req, res):
            req.resume()
            req.on("end", lambda: res.end("done"))
        server = prefork.create_server(handler)
        server.listen(0)
        await asyncio.sleep(0)
        try:
            req = prefork.request(f"http://127.0.0.1:{server.address()['port']}/", method="POST", agent=False)
            drained = asyncio.get_running_loop().create_future()
            req.on("drain", lambda: drained.done() or drained.set_result(None))
            req.on("drain", boom)
            while req.write(b"x" * 65536):
                pass
            await asyncio.wait_for(drained, 5)  # (before the end(): none comes after it, as Node's)
            req.end()
            res = await asyncio.wait_for(req, 5)
            assert await asyncio.wait_for(res.read(), 5) == b"done"
        finally:
            server.close()
    records = run_logged(caplog, main)
    assert [r.getMessage() for r in records] == ["error in a client 'drain' listener"]


def test_a_raising_finish_listener_is_logged_and_the_response_still_comes(caplog):
    async def main():
        server, port = await serving()
        try:
            req = prefork.get(f"http://127.0.0.1:{port}/", agent=False)
            req.on("finish", boom)
            res = await asyncio.wait_for(req, 5)
            assert await asyncio.wait_for(res.read(), 5) == b"hello"
        finally:
            server.close()
    records = run_logged(caplog, main)
    assert [r.getMessage() for r in records] == ["error in a client 'finish' listener"]


def test_a_raising_error_listener_of_a_write_after_end_is_logged_and_the_response_still_comes(caplog):
    async def main():
        server, port = await serving()
        try:
            req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})
            done = asyncio.get_running_loop().create_future()
            req.on("error", boom)
            req.on("response", lambda res: (res.resume(), res.on("end", lambda: done.set_result(True))))
            req.end()
            assert req.write(b"x") is False  # write after end: its 'error' comes on the next turn
            assert await asyncio.wait_for(done, 5)
        finally:
            server.close()
    records = run_logged(caplog, main)
    assert [r.getMessage() for r in records] == ["error in a client 'error' listener"]
    assert "RuntimeError: boom" in caplog.text and "Traceback" in caplog.text
