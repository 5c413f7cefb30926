"""A ``finish`` listener that destroys the socket (``res.on('finish', () =>
req.socket.destroy())``) leaves the pipelined responses whose bytes were already in the
kernel finished: ``finish`` then ``close``, ``writable_finished``, observed whole (access
log), as Node finishes a response whose bytes its socket wrote before the destroy. They
used to get the request's ``aborted`` and a ``close`` without ``finish`` and be logged cut.

When Node is installed, its server is the reference: it writes the second answer before
the destroy (the third waits its turn in Node and is aborted; prefork had written it
too, so it finishes as well).
"""

import json
import shutil
import socket
import subprocess

from hostile import read_to_close

NODE = shutil.which("node")
READ = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const events = [];
const server = http.createServer((req, res) => {
  const u = req.url;
  res.on('finish', () => events.push(u + ' finish ' + (res.writableFinished ? 'True' : 'False')));
  res.on('close', () => events.push(u + ' close ' + (res.writableFinished ? 'True' : 'False')));
  req.on('aborted', () => events.push(u + ' aborted'));
  if (u === '/1') res.on('finish', () => req.socket.destroy());
  res.end('r' + u);
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write(process.argv[1]));
  c.on('data', () => {});
  c.on('close', () => setTimeout(() => { console.log(JSON.stringify(events)); server.close(); }, 50));
});
"""


def test_pipelined_responses_in_the_kernel_when_a_finish_listener_destroys_the_socket_finish(serve):
    def setup(server, st_):
        def on_request(req, res):
            u = req.url
            res.on("finish", lambda: st_.record(f"{u} finish {res.writable_finished}"))
            res.on("close", lambda: st_.record(f"{u} close {res.writable_finished}"))
            req.on("aborted", lambda: st_.record(f"{u} aborted"))
            if u == "/1":
                res.on("finish", lambda: req.socket.destroy())
            res.end("r" + u)
        server.on("request", on_request)
        server.response_observer = lambda req, res: st_.record(f"observed {req.url} {type(res).__name__}")

    st_ = serve(setup)
    with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
        sock.sendall(READ)
        data = read_to_close(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 3 and data.endswith(b"r/3"), data
    st_.wait_for(lambda e: e[0] == "/3 close True")
    events = [e[0] for e in st_.events]
    assert [e for e in events if e.startswith("observed")] == [f"observed /{i} ServerResponse" for i in (1, 2, 3)]
    events = [e for e in events if not e.startswith("observed")]
    assert events == ["/1 finish True", "/1 close True", "/2 finish True", "/3 finish True",
                      "/2 close True", "/3 close True"], events
    if NODE:
        out = subprocess.run([NODE, "-e", NODE_SERVER, READ.decode("latin-1")], capture_output=True, text=True,
                             timeout=30)
        node = json.loads(out.stdout.strip().splitlines()[-1])
        # Node wrote the second answer before the destroy: the same events for it
        assert [e for e in events if not e.startswith("/3")] == [e for e in node if not e.startswith("/3")], node
