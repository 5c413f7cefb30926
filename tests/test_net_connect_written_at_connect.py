"""What a client socket was given to write while it connected is sent by a ``connect``
listener its first write added, as Node v20's: a ``connect`` listener added after that
write finds it sent (``writable_length`` 0), one added before finds it still queued.
prefork sent it after every ``connect`` and ``ready`` listener. The same program runs on
Node against the same listener (which never accepts)."""

import asyncio
import socket

from harness import node_events
from prefork.net import Socket

NODE_SCRIPT = r"""
const port = %d; let left = 2;
for (const tag of ['listened-after', 'listened-before']) {
  const s = net.connect(port, '127.0.0.1');
  const listen = () => s.on('connect', () => {
    log(tag, 'connect', s.writableLength);
    process.nextTick(() => { s.destroy(); if (--left === 0) setImmediate(done); });
  });
  if (tag === 'listened-before') listen();
  s.write('hello', () => log(tag, 'write callback'));
  if (tag === 'listened-after') listen();
}
"""


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        left = [2]
        over = loop.create_future()
        for tag in ("listened-after", "listened-before"):
            s = Socket.connect(loop, "127.0.0.1", port)

            def on_connect(tag=tag, s=s):
                events.append([tag, "connect", s.writable_length])
                left[0] -= 1
                loop.call_soon(lambda: (s.destroy(), left[0] or loop.call_soon(over.set_result, None)))

            def write(tag=tag, s=s):
                s.write(b"hello", lambda: events.append([tag, "write callback"]))
            if tag == "listened-before":
                s.on("connect", on_connect)
            write()
            if tag == "listened-after":
                s.on("connect", on_connect)
        await asyncio.wait_for(over, 5)
    asyncio.run(main())
    return events


def by_tag(events, tags=("listened-after", "listened-before")):
    return {tag: [e[1:] for e in events if e[0] == tag] for tag in tags}


def test_what_was_written_while_connecting_goes_at_the_connect_as_nodes():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        expected = by_tag(node_events(NODE_SCRIPT % port))
        # (Node calls the first write's callback inside its listener: prefork on the next turn)
        assert expected["listened-before"] == [["connect", 5], ["write callback"]]
        assert expected["listened-after"] == [["write callback"], ["connect", 0]]
        ours = by_tag(prefork_events(port))
        assert ours["listened-before"] == expected["listened-before"]
        assert ours["listened-after"] == [["connect", 0], ["write callback"]]


# end() while connecting: the FIN, the end() callback and 'finish' follow the connect and
# the write callbacks, as Node's. prefork ran them inside the first 'connect' listener (the
# one the write added), before the application's 'connect' listener and the write callback.
ENDED_NODE_SCRIPT = r"""
const port = %d; let left = 2;
for (const tag of ['write-end', 'end-data']) {
  const s = net.connect(port, '127.0.0.1');
  const said = (what) => (err) => log(tag, what, err ? err.code : null);
  s.on('finish', () => { log(tag, 'finish'); process.nextTick(() => s.destroy()); });
  s.on('close', () => { log(tag, 'close'); if (--left === 0) setImmediate(done); });
  if (tag === 'write-end') { s.write('x', said('write callback')); s.end(said('end callback')); }
  else s.end('x', said('end callback'));
  s.on('connect', () => log(tag, 'connect'));
}
"""


def prefork_ended_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        left = [2]
        over = loop.create_future()
        for tag in ("write-end", "end-data"):
            s = Socket.connect(loop, "127.0.0.1", port)

            def said(what, tag=tag):
                return lambda err=None: events.append([tag, what, err and err.code])

            def on_close(*_, tag=tag):
                events.append([tag, "close"])
                left[0] -= 1
                if not left[0]:
                    loop.call_soon(over.set_result, None)
            s.on("finish", lambda tag=tag, s=s: (events.append([tag, "finish"]), loop.call_soon(s.destroy)))
            s.on("close", on_close)
            if tag == "write-end":
                s.write(b"x", said("write callback"))
                s.end(said("end callback"))
            else:
                s.end(b"x", said("end callback"))
            s.on("connect", lambda tag=tag: events.append([tag, "connect"]))
        await asyncio.wait_for(over, 5)
    asyncio.run(main())
    return events


def test_end_while_connecting_finishes_after_the_connect_as_nodes():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        tags = ("write-end", "end-data")
        expected = by_tag(node_events(ENDED_NODE_SCRIPT % port), tags)
        assert expected["end-data"] == [["connect"], ["end callback", None], ["finish"], ["close"]]
        # (the write callback inside the write's own 'connect' listener in Node: prefork on the next turn)
        assert expected["write-end"][:2] == [["write callback", None], ["connect"]]
        ours = by_tag(prefork_ended_events(port), tags)
        assert ours["end-data"] == expected["end-data"]
        assert ours["write-end"] == [["connect"], ["write callback", None]] + expected["write-end"][2:]


# A 'connect' listener added before the first write that destroys the socket: what was
# written while connecting is not sent, and the callbacks (end()'s too) get
# ERR_SOCKET_CLOSED, as Node's (its write's listener finds the socket closed). prefork's
# destroy sent it, the callbacks None.
DESTROYED_NODE_SCRIPT = r"""
const s = net.connect(%d, '127.0.0.1');
const said = (what) => (err) => log(what, err ? err.code : null);
s.on('connect', () => { log('connect'); s.destroy(); });
s.on('error', (e) => log('error', e.code));
s.on('close', () => { log('close'); setImmediate(done); });
s.write('xy', said('write callback')); s.write('zz', said('write callback')); s.end(said('end callback'));
"""


def prefork_destroyed_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        over = loop.create_future()
        s = Socket.connect(loop, "127.0.0.1", port)

        def said(what):
            return lambda err=None: events.append([what, err and err.code])
        s.on("connect", lambda: (events.append(["connect"]), s.destroy()))
        s.on("error", lambda e: events.append(["error", e.code]))
        s.on("close", lambda *_: (events.append(["close"]), loop.call_soon(over.set_result, None)))
        s.write(b"xy", said("write callback"))
        s.write(b"zz", said("write callback"))
        s.end(said("end callback"))
        await asyncio.wait_for(over, 5)
    asyncio.run(main())
    return events


def received(listener):
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(5)
        data = b""
        while chunk := conn.recv(100):
            data += chunk
        return data


def test_a_destroy_in_an_earlier_connect_listener_sends_nothing_as_nodes():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        expected = node_events(DESTROYED_NODE_SCRIPT % port)
        closed = "ERR_SOCKET_CLOSED"
        assert expected == [["connect"], ["write callback", closed], ["write callback", closed],
                            ["end callback", closed], ["close"]]
        assert received(listener) == b""
        assert prefork_destroyed_events(port) == expected
        assert received(listener) == b""
