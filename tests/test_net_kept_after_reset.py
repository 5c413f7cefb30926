"""Bytes a handed-over socket kept (paused, or before any ``data`` listener) when its peer
resets: the socket is destroyed and they are dropped, as Node's; a ``resume()`` or a
``data`` listener added after the close brings no ``data`` (Node's destroyed stream
emits nothing more)."""

import pytest

from harness import node_program
from test_net_paused_peer_node import Recorder, drive

NODE_SUBJECT = r"""
'use strict';
const http = require('http');
const server = http.createServer();
const socks = new Map();
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
server.on('request', (req, res) => {
  const [, , name] = req.url.split('/');
  const sock = socks.get(name);
  res.end(String(sock ? sock.bytesRead : -1));
});
server.on('connect', (req, sock) => {
  const name = req.headers['x-s'];
  socks.set(name, sock);
  const onData = (d) => log({ name, e: ['data', d.length] });
  if (name.startsWith('paused')) { sock.pause(); sock.on('data', onData); }
  sock.on('error', (e) => log({ name, e: ['error', e.code] }));
  sock.on('close', () => {
    log({ name, e: ['close'] });
    if (name.startsWith('paused')) sock.resume(); else sock.on('data', onData);
    setImmediate(() => setImmediate(() => log({ name, done: true })));
  });
  sock.write('HTTP/1.1 200 OK\r\n\r\n');
});
server.listen(0, '127.0.0.1', () => log({ port: server.address().port }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"""


def subject_setup(recorder):
    def setup(server, st):
        socks = {}

        def on_request(req, res):
            sock = socks.get(req.url.split("/")[2])
            res.end(str(sock.bytes_read if sock is not None else -1))

        def on_connect(req, sock, head):
            name = req.headers["x-s"]
            socks[name] = sock
            paused = name.startswith("paused")

            def on_data(data):
                recorder.add(name, ["data", len(data)])

            def on_close(had_error=False):
                recorder.add(name, ["close"])
                if paused:
                    sock.resume()
                else:
                    sock.on("data", on_data)
                loop = sock.loop  # two turns on: after anything the resume or the listener brings
                loop.call_soon(loop.call_soon, recorder.finish, name)
            if paused:
                sock.pause()
                sock.on("data", on_data)
            sock.on("error", lambda e: recorder.add(name, ["error", e.code]))
            sock.on("close", on_close)
            sock.write("HTTP/1.1 200 OK\r\n\r\n")
        server.on("request", on_request)
        server.on("connect", on_connect)
    return setup


@pytest.fixture(scope="module")
def node_subject():
    recorder = Recorder()

    def on_item(item):
        if item.get("done"):
            recorder.finish(item["name"])
        else:
            recorder.add(item["name"], item["e"])
    with node_program(["-e", NODE_SUBJECT], on_item) as port:
        yield port, recorder


@pytest.mark.parametrize("name", ["paused", "listenerless"])
def test_bytes_kept_at_a_reset_never_come_after_the_close(node_subject, serve, name):
    recorder = Recorder()
    st = serve(subject_setup(recorder))
    results = []
    for port, rec in (node_subject, (st.port, recorder)):
        drive(port, name, [b"hello", ("read", 5), "reset"])
        results.append(rec.wait(name))
    node_events, our_events = results
    assert node_events == [["error", "ECONNRESET"], ["close"]]
    assert our_events == node_events
