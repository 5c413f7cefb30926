"""``socket.bytes_written`` is Node's ``bytesWritten``: every byte written, those still
queued in user space (a corked response's, or those a slow reader has not let the
kernel take) included. Compared with Node 20 when it is installed."""

import json
import shutil
import socket
import subprocess

from hostile import read_to_close

NODE = shutil.which("node")
BIG = 8 * 1024 * 1024

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const seen = [];
const server = http.createServer((req, res) => {
  const s = req.socket;
  seen.push(s.bytesWritten);
  res.write('hello');
  seen.push(s.bytesWritten);
  res.write(Buffer.alloc(%d, 97));
  seen.push(s.bytesWritten);
  res.end();
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  c.on('data', () => {});
  c.on('close', () => { console.log(JSON.stringify(seen)); server.close(); });
});
""" % BIG


def test_bytes_written_counts_what_is_queued(serve):
    def setup(server, st):
        def on_request(req, res):
            s = req.socket
            seen = [s.bytes_written]
            res.write("hello")
            seen.append(s.bytes_written)
            res.write(b"a" * BIG)
            seen.append(s.bytes_written)
            res.end()
            res.on("finish", lambda: st.record("seen", seen, s.bytes_written))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock)
    _, seen, at_finish = st.wait_for(lambda e: e[0] == "seen")
    head = data.index(b"\r\n\r\n") + 4
    assert seen[0] == 0
    assert seen[1] == head + len(b"5\r\nhello\r\n"), (seen, data[:head])
    assert seen[2] == len(data) - len(b"0\r\n\r\n"), seen
    assert at_finish == len(data)
    if NODE:
        out = subprocess.run([NODE, "-e", NODE_SERVER], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        node = json.loads(out.stdout)
        # the head differs by its Date only, which has one length
        assert node == seen, (node, seen)
