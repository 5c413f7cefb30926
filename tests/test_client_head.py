"""The answer to HEAD read late (its ``end`` waits for a reader): bytes the server sends
after it, before anything else was asked, are never taken for a second answer to the
same request (a second ``response`` event, as Node never gives); the socket is not
used again."""

import asyncio
import time

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        time.sleep(0.05)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nXX")  # answers nothing asked


NODE_HEAD = r"""
const port = %d;
const agent = new http.Agent({keepAlive: true});
const req = http.request({host: '127.0.0.1', port, agent, method: 'HEAD'});
req.on('error', (e) => log('error', e.code));
req.on('response', (res) => {
  log('response', res.statusCode);
  setTimeout(() => { res.on('end', () => { log('end'); setTimeout(() => { agent.destroy(); done(); }, 50); }); res.resume(); }, 150);
});
req.end();
"""


def test_bytes_after_a_head_answer_read_late_are_not_a_second_answer():
    srv = RawServer(handler)

    async def main():
        loop = asyncio.get_running_loop()
        events = []
        finished = loop.create_future()
        agent = prefork.Agent()
        req = prefork.request({"host": "127.0.0.1", "port": srv.port, "agent": agent, "method": "HEAD"})
        req.on("error", lambda e: events.append(["error", e.code]))

        def on_response(res):
            events.append(["response", res.status_code])

            def read_late():
                res.on("end", lambda: (events.append(["end"]), loop.call_later(0.05, finished.set_result, None)))
                res.resume()
            loop.call_later(0.15, read_late)  # after the unasked bytes came
        req.on("response", on_response)
        req.end()
        await asyncio.wait_for(finished, 4)
        again = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent})
        res = await asyncio.wait_for(again.response(), 4)
        await asyncio.wait_for(res.read(), 4)
        agent.destroy()
        return events, again.reused_socket
    try:
        events, reused = asyncio.run(main())
        accepted = srv.accepted
        theirs = node_events(NODE_HEAD % srv.port)
    finally:
        srv.close()
    assert events == theirs == [["response", 200], ["end"]]
    assert reused is False and accepted == 2
