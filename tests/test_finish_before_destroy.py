"""A response whose bytes reached the kernel before its socket was destroyed finishes:
``finish`` (then ``close``) on the response, and the response observer (access log,
metrics) sees it, as Node emits ``finish`` for a write done before its ``destroy()``.

The case on real sockets: one read holds a request answered at once from its
``request`` listener and, behind it, a malformed request whose ``clientError`` listener
destroys the socket. The answer goes out in the destroy's last send; it used to reach
the client with no ``finish``, so no access log line and no count. When Node is
installed, its server is the reference for the events.
"""

import json
import shutil
import socket
import subprocess

from hostile import read_to_close

NODE = shutil.which("node")
READ = b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE / HTTP/1.1\r\n\r\n"

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const events = [];
const server = http.createServer((req, res) => {
  res.on('finish', () => events.push('finish ' + req.url));
  res.on('close', () => events.push('close ' + req.url));
  res.end('ok');
});
server.on('clientError', (err, socket) => { events.push('clientError ' + err.code); socket.destroy(); });
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write(process.argv[1]));
  let got = '';
  c.on('data', (d) => { got += d.toString('latin1'); });
  c.on('close', () => setTimeout(() => {
    console.log(JSON.stringify({ events, answered: got.endsWith('ok') }));
    server.close();
  }, 50));
});
"""


def test_an_answer_sent_by_the_destroys_last_send_finishes_and_is_observed(serve):
    def setup(server, st_):
        def on_request(req, res):
            res.on("finish", lambda: st_.record("finish " + req.url))
            res.on("close", lambda: st_.record("close " + req.url))
            res.end("ok")

        def on_client_error(err, sock):
            st_.record("clientError " + err.code)
            sock.destroy()
        server.on("request", on_request)
        server.on("clientError", on_client_error)
        server.response_observer = lambda req, res: st_.record(f"observed {req.url} {res.status_code}")

    st_ = serve(setup)
    with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
        sock.sendall(READ)
        data = read_to_close(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"ok"), data
    st_.wait_for(lambda e: e[0] == "close /first")
    events = [e[0] for e in st_.events]
    assert events == ["clientError HPE_INVALID_METHOD", "finish /first", "observed /first 200", "close /first"], \
        events
    if NODE:
        out = subprocess.run([NODE, "-e", NODE_SERVER, READ.decode("latin-1")], capture_output=True, text=True,
                             timeout=30)
        node = json.loads(out.stdout.strip().splitlines()[-1])
        assert node["answered"]
        assert [e for e in events if not e.startswith("observed")] == node["events"], node
