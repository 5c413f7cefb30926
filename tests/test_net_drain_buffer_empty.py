"""A socket's ``drain`` means its buffer is empty, as Node v20's: it comes before the
callbacks of the writes that emptied it (bytes one of them queues do not make it a lie:
their own ``drain`` comes once they are out).
The same program runs on Node (``net``) and on a prefork client socket, each against a
peer that starts reading once the socket's buffer is full."""

import asyncio
import socket
import threading

from harness import node_events, run_loop
from prefork.net import Socket

BIG = 16 << 20

NODE_SCRIPT = r"""
const srv = net.createServer((s) => { s.pause(); setTimeout(() => s.resume(), 100); s.on('end', () => s.end()); });
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => {
    const chunk = Buffer.alloc(65536, 'x');
    let queued = false;
    c.on('drain', () => { log('drain', c.writableLength); if (queued) c.end(); });
    while (c.write(chunk)) {}
    c.write(chunk, () => {
      log('cb', c.writableLength);
      log('queued', c.write(Buffer.alloc(%d)));
      queued = true;
    });
  });
  c.on('close', () => { log('close'); srv.close(); done(); });
});
""".replace("%d", str(BIG))


def peer(listener):
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        while conn.recv(1 << 20):
            pass


def prefork_events():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    loop = asyncio.new_event_loop()
    events = []
    thread = None
    try:
        c = Socket.connect(loop, "127.0.0.1", listener.getsockname()[1])

        def on_drain():
            events.append(["drain", c.writable_length])
            if len(events) > 1:  # the drain of what the callback queued
                c.end()

        def on_callback():
            events.append(["cb", c.writable_length])
            events.append(["queued", c.write(bytes(BIG))])

        def connected():
            nonlocal thread
            while c.write(bytes(65536)):
                pass
            c.write(bytes(65536), on_callback)
            thread = threading.Thread(target=peer, args=(listener,))  # reads from now on
            thread.start()

        def on_close(had_error=False):
            events.append(["close"])
            loop.stop()
        c.on("connect", connected)
        c.on("drain", on_drain)
        c.on("close", on_close)
        run_loop(loop, 10)
    finally:
        if thread is not None:
            thread.join(10)
        listener.close()
        loop.close()
    return events


def test_drain_comes_with_the_buffer_empty_before_the_callback_that_queues_more():
    expected = node_events(NODE_SCRIPT)
    assert expected == [["drain", 0], ["cb", 0], ["queued", False], ["drain", 0], ["close"]]
    assert prefork_events() == expected

