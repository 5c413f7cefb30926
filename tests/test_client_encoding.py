"""``res.set_encoding()``: Node's ``setEncoding`` on a client response. Chunks are
``str``; a character split between reads comes whole with the next chunk, one left
incomplete at the end comes as U+FFFD before ``end``; chunks kept while nobody read
are decoded when they go out; ``read()`` gives the text. Compared with Node's client
against the same raw server."""

import asyncio
import base64
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

PARTS = {
    "split characters": [b"h\xc3", b"\xa9llo \xe2\x82", b"\xac!"],
    "an incomplete end": [b"ab\xe2\x82"],
}


def serving(parts):
    body = b"".join(parts)

    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            for part in parts:
                time.sleep(0.02)
                conn.sendall(part)
    return handler


NODE_TEXT = r"""
const [port, encoding, late] = [%d, '%s', %s];
const req = http.get({host: '127.0.0.1', port, agent: false}, (res) => {
  res.setEncoding(encoding);
  const listen = () => { res.on('data', (d) => log('data', typeof d, d)); res.on('end', () => { log('end'); done(); }); };
  if (!late) return listen();
  const wait = () => res.complete ? listen() : setTimeout(wait, 5);
  wait();
});
"""


def prefork_text(port, encoding, late):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        finished = loop.create_future()

        def on_response(res):
            res.set_encoding(encoding)

            def listen():
                res.on("data", lambda d: events.append(["data", "string" if type(d) is str else "bytes", d]))
                res.on("end", lambda: (events.append(["end"]), finished.set_result(None)))
            if not late:
                listen()
                return

            def wait():
                listen() if res.complete else loop.call_later(0.005, wait)
            wait()
        prefork.get({"host": "127.0.0.1", "port": port, "agent": False}, on_response)
        await asyncio.wait_for(finished, 4)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("late", [False, True], ids=["listening", "read late"])
@pytest.mark.parametrize("name", list(PARTS))
def test_decoded_chunks_as_in_node(name, late):
    srv = RawServer(serving(PARTS[name]))
    try:
        ours = prefork_text(srv.port, "utf8", late)
        theirs = node_events(NODE_TEXT % (srv.port, "utf8", "true" if late else "false"))
    finally:
        srv.close()
    text = b"".join(PARTS[name]).decode("utf-8", "replace")
    assert "".join(e[2] for e in theirs if e[0] == "data") == text
    assert all(e[1] == "string" for e in theirs if e[0] == "data")
    if name == "an incomplete end":  # one read: the chunks are the same
        assert ours == theirs
    else:  # the split into reads is the kernel's: the text and the kinds must agree
        assert "".join(e[2] for e in ours if e[0] == "data") == text
        assert all(e[1] == "string" and "\ufffd" not in e[2] for e in ours if e[0] == "data")
        assert ours[-1] == ["end"]


def test_read_gives_the_text():
    parts = PARTS["split characters"]
    srv = RawServer(serving(parts))

    async def main():
        req = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": False})
        res = await asyncio.wait_for(req.response(), 4)
        res.set_encoding("base64")
        return await asyncio.wait_for(res.read(), 4)
    try:
        body = asyncio.run(main())
    finally:
        srv.close()
    assert body == base64.b64encode(b"".join(parts)).decode()
