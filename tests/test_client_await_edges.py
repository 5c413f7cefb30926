"""A response read later than it came: by a coroutine ``response`` listener after an
await, or by awaiting the request after its response (or its whole exchange) is over.
Nothing of the body is lost: it is kept unread (the socket stops reading past a mark,
as Node's paused stream does), and a body discarded because nobody took the response
raises instead of reading as a shorter one."""

import asyncio
import json
import subprocess

import pytest

import prefork
from prefork.http.errors import HTTPError
from harness import NODE
from test_hostile_client import RawServer, read_head

SIZES = {"small": 40 * 1024, "over the mark": 1 << 20}


def body_of(size):
    return bytes(i % 251 for i in range(size))


@pytest.fixture
def serve():
    servers = []

    def start(size, requests=1):
        body = body_of(size)

        def handler(conn, index):
            for _ in range(requests):
                if not read_head(conn):
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + body)
            while conn.recv(65536):
                pass
        srv = RawServer(handler)
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.close()


NODE_LATER = r"""
const http = require('http');
const crypto = require('crypto');
const req = http.get({host: '127.0.0.1', port: +process.argv[1], agent: false});
req.on('response', async (res) => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const chunks = [];
  for await (const chunk of res) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  console.log(JSON.stringify([body.length, crypto.createHash('sha256').update(body).digest('hex')]));
  req.destroy();
});
"""


@pytest.mark.parametrize("how", ["async for", "read"])
@pytest.mark.parametrize("size", list(SIZES))
def test_a_coroutine_listener_reading_after_an_await_gets_the_whole_body(serve, size, how):
    import hashlib
    srv = serve(SIZES[size])

    async def main():
        got = asyncio.get_running_loop().create_future()

        async def on_response(res):
            await asyncio.sleep(0.3)  # the body comes meanwhile (all of it, or up to the mark)
            if how == "read":
                body = await res.read()
            else:
                body = b""
                async for chunk in res:
                    body += chunk
            got.set_result(body)
        req = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": False})
        req.on("response", on_response)
        body = await asyncio.wait_for(got, 10)
        req.destroy()
        return body
    body = asyncio.run(main())
    assert body == body_of(SIZES[size])
    if NODE is not None:
        node_srv = serve(SIZES[size])
        out = subprocess.run([NODE, "-e", NODE_LATER, str(node_srv.port)], capture_output=True, text=True,
                             timeout=30)
        assert json.loads(out.stdout) == [len(body), hashlib.sha256(body).hexdigest()]


def test_awaiting_a_request_after_its_exchange_ended_gets_the_whole_body(serve):
    srv = serve(SIZES["small"], requests=2)

    async def main():
        agent = prefork.Agent()
        loop = asyncio.get_running_loop()
        reqs = [prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent, "path": f"/{i}"})
                for i in range(2)]
        closed = [loop.create_future() for _ in reqs]
        for req, future in zip(reqs, closed):
            req.on("close", lambda future=future: future.done() or future.set_result(None))
        await asyncio.wait_for(asyncio.gather(*closed), 10)  # both responses came and ended
        bodies = []
        for req in reqs:  # awaited one after another, as a list comprehension does
            res = await asyncio.wait_for(req, 5)
            bodies.append(await asyncio.wait_for(res.read(), 5))
        agent.destroy()
        return bodies
    assert asyncio.run(main()) == [body_of(SIZES["small"])] * 2


def test_a_body_nobody_took_past_the_mark_raises_and_frees_its_socket(serve):
    """Nobody listened to or awaited the response while over the mark came: the body is
    discarded as it comes (the socket serves the next request in line, as after Node's
    dump), and a late read raises rather than give a part of it."""
    srv = serve(SIZES["over the mark"], requests=2)

    async def main():
        agent = prefork.Agent(max_sockets=1)
        first = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent})
        second = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent})
        res = await asyncio.wait_for(second, 10)  # in line behind the first: its socket was freed
        body = await asyncio.wait_for(res.read(), 10)
        late = await asyncio.wait_for(first, 5)
        with pytest.raises(HTTPError) as raised:
            await asyncio.wait_for(late.read(), 5)
        with pytest.raises(HTTPError) as raised_too:
            async for _ in late:
                pass
        agent.destroy()
        return body, raised.value.code, raised_too.value.code, second.reused_socket
    body, code, code_too, _ = asyncio.run(main())
    assert body == body_of(SIZES["over the mark"])
    assert code == code_too == "ERR_BODY_DISCARDED"
    assert srv.accepted == 1


NODE_LATE_LISTENER = r"""
const http = require('http');
const crypto = require('crypto');
const req = http.get({host: '127.0.0.1', port: +process.argv[1], agent: false});
req.on('response', async (res) => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const chunks = [];
  res.on('data', (d) => chunks.push(d));
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    console.log(JSON.stringify([body.length, crypto.createHash('sha256').update(body).digest('hex')]));
    req.destroy();
  });
});
"""


def test_a_data_listener_attached_after_an_await_gets_the_kept_body(serve):
    """Over the mark the body waits (its socket paused) for a reader: a ``data``
    listener attached late gets the kept chunks first, then the rest, then ``end``."""
    import hashlib
    size = SIZES["over the mark"]
    srv = serve(size)

    async def main():
        got = asyncio.get_running_loop().create_future()

        async def on_response(res):
            await asyncio.sleep(0.3)
            chunks = []
            res.on("data", chunks.append)
            res.on("end", lambda: got.set_result(b"".join(chunks)))
        req = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": False})
        req.on("response", on_response)
        body = await asyncio.wait_for(got, 10)
        req.destroy()
        return body
    body = asyncio.run(main())
    assert body == body_of(size)
    if NODE is not None:
        node_srv = serve(size)
        out = subprocess.run([NODE, "-e", NODE_LATE_LISTENER, str(node_srv.port)], capture_output=True, text=True,
                             timeout=30)
        assert json.loads(out.stdout) == [len(body), hashlib.sha256(body).hexdigest()]
