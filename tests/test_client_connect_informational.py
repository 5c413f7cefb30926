"""A 1xx answering a CONNECT is the CONNECT's response, as in Node's client: ``connect``
fires with that status and everything after its head (a later head included) is the
tunnel's first bytes; no ``information`` event. Node's client against the same raw
proxy."""

import asyncio
import socket
import threading

import pytest

import prefork
from harness import node_events

ANSWERS = {
    "100 then 200": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nrest",
    "102 alone": b"HTTP/1.1 102 Processing\r\n\r\ntunnel",
    "200": b"HTTP/1.1 200 Connection Established\r\n\r\nfirst",
}

NODE_CLIENT = r"""
const req = http.request({port: %d, host: '127.0.0.1', method: 'CONNECT', path: 'x:1', agent: false});
req.on('information', (i) => log('information', i.statusCode));
req.on('response', (r) => { log('response', r.statusCode); done(); });
req.on('connect', (res, sock, head) => { log('connect', res.statusCode, head.toString('latin1')); sock.destroy(); done(); });
req.on('error', (e) => { log('error', e.code); done(); });
req.end();
"""


@pytest.fixture
def raw_proxy():
    """A listener answering every connection's first read with the bytes in ``answer[0]``."""
    listener = socket.create_server(("127.0.0.1", 0))
    answer = [b""]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                if conn.recv(65536):
                    conn.sendall(answer[0])
                    conn.recv(65536)  # until the client leaves
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], answer
    stop.set()
    thread.join(5)
    listener.close()


def prefork_client(port):
    async def main():
        events = []
        ended = asyncio.get_running_loop().create_future()
        req = prefork.request({"port": port, "host": "127.0.0.1", "method": "CONNECT",
                               "path": "x:1", "agent": False})

        def finish():
            if not ended.done():
                ended.set_result(None)

        def on_connect(res, sock, head):
            events.append(["connect", res.status_code, head.decode("latin-1")])
            sock.destroy()
            finish()

        def on_response(res):
            events.append(["response", res.status_code])
            finish()

        def on_error(err):
            events.append(["error", getattr(err, "code", None)])
            finish()
        req.on("information", lambda info: events.append(["information", info.status_code]))
        req.on("connect", on_connect)
        req.on("response", on_response)
        req.on("error", on_error)
        req.end()
        await asyncio.wait_for(ended, 5)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_connect_answered_by_a_1xx_is_the_connect_response(raw_proxy, case):
    port, answer = raw_proxy
    answer[0] = ANSWERS[case]
    theirs = node_events(NODE_CLIENT % port)
    ours = prefork_client(port)
    assert ours == theirs, (ours, theirs)
    assert ours[0][0] == "connect"
