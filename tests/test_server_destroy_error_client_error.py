"""A socket destroyed by the application with an error (``socket.destroy(err)``,
``res.destroy(err)``, ``req.destroy(err)``) reaches the server's ``clientError`` with
that error and the socket, on a later turn, before the socket's own ``error`` and
``close`` listeners, as Node's server hears its socket's error; a plain ``destroy()``
does not. Compared with Node 20 when it is installed."""

import json
import shutil
import socket
import subprocess

from hostile import read_to_close

NODE = shutil.which("node")
URLS = ["/s", "/res", "/req", "/s-after-write", "/s-noerr"]

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const log = [];
const server = http.createServer((req, res) => {
  const s = req.socket;
  const e = new Error('boom ' + req.url);
  s.on('error', (er) => log.push([req.url, 'socket error', er.message]));
  s.on('close', (h) => log.push([req.url, 'socket close', h]));
  if (req.url === '/s') s.destroy(e);
  else if (req.url === '/res') res.destroy(e);
  else if (req.url === '/req') req.destroy(e);
  else if (req.url === '/s-after-write') { res.write('x'); setTimeout(() => s.destroy(e), 10); }
  else if (req.url === '/s-noerr') s.destroy();
  log.push([req.url, 'after call']);
});
server.on('clientError', (err, sock) => { log.push(['clientError', err.message, sock.destroyed]); });
server.listen(0, '127.0.0.1', async () => {
  for (const url of %s) {
    await new Promise((resolve) => {
      const c = net.connect(server.address().port, '127.0.0.1', () => c.write(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`));
      c.on('data', () => {}); c.on('error', () => {});
      c.on('close', resolve);
    });
  }
  await new Promise((r) => setTimeout(r, 50));
  console.log(JSON.stringify(log));
  server.close();
});
""" % json.dumps(URLS)


def setup(listen):
    def start(server, st):
        def on_request(req, res):
            s = req.socket
            e = Exception("boom " + req.url)
            s.on("error", lambda er: st.record(req.url, "socket error", str(er)))
            s.on("close", lambda had_error: st.record(req.url, "socket close", had_error))
            if req.url == "/s":
                s.destroy(e)
            elif req.url == "/res":
                res.destroy(e)
            elif req.url == "/req":
                req.destroy(e)
            elif req.url == "/s-after-write":
                res.write("x")
                s.loop.call_later(0.01, s.destroy, e)
            elif req.url == "/s-noerr":
                s.destroy()
            st.record(req.url, "after call")
        server.on("request", on_request)
        if listen:
            server.on("clientError", lambda err, sock: st.record("clientError", str(err), sock.destroyed))
    return start


def run(st):
    for url in URLS:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.encode())
            read_to_close(sock)
        st.wait_for(lambda e: e == (url, "socket close", url != "/s-noerr"))
    return [list(e) for e in st.events]


def test_client_error_hears_the_error_in_nodes_order(serve):
    events = run(serve(setup(True)))
    for url in URLS[:-1]:
        at = events.index([url, "after call"])
        assert events[at:at + 4] == [[url, "after call"], ["clientError", "boom " + url, True],
                                     [url, "socket error", "boom " + url], [url, "socket close", True]], events
    assert ["clientError", "boom /s-noerr", True] not in events
    if NODE:
        out = subprocess.run([NODE, "-e", NODE_SERVER], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == events


def test_unlistened_the_socket_just_closes(serve):
    st = serve(setup(False))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_to_close(sock) == b""  # no 400: the socket is gone
    st.wait_for(lambda e: e == ("/s", "socket close", True))
    assert ("/s", "socket error", "boom /s") in st.events


def test_one_client_error_per_socket(serve):
    """The error is told once: destroying the socket again, there or in the listener,
    changes nothing."""
    def start(server, st):
        def on_request(req, res):
            req.socket.on("close", lambda had_error: st.record("socket close"))
            req.socket.destroy(Exception("first"))
            req.socket.destroy(Exception("second"))
        server.on("request", on_request)
        server.on("clientError", lambda err, sock: (st.record("clientError", str(err)), sock.destroy(err)))
    st = serve(start)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_to_close(sock)
    st.wait_for(lambda e: e == ("socket close",))  # (after any clientError)
    assert [e for e in st.events if e[0] == "clientError"] == [("clientError", "first")], st.events
