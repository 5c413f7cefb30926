"""A 'readable' reader that loops ``read(n)`` until it gets None: the read that finds
fewer than n bytes (the body not complete) makes the next 'readable' wait for more bytes
or the end, as Node 20's does; no 'readable' comes in between with nothing new to read.
The same client bytes, one chunk after the server has read the previous, go to Node's
server too when Node is installed: the logs must match.
"""

import json
import socket
import subprocess

from harness import NODE

CHUNKS = [b"abc", b"defg", b"h"]
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const chunks = JSON.parse(process.argv[1]);
const log = []; let want = null;
const L = (e) => { log.push(e); if (want && log.filter((x) => x === 'pass').length >= want[0]) { const w = want[1]; want = null; w(); } };
const server = http.createServer((req, res) => {
  req.on('readable', () => {
    L('readable ' + req.readableLength);
    let c;
    while ((c = req.read(2)) !== null) L('read ' + c.toString());
    L('pass');
  });
  req.on('end', () => { L('end'); res.end('ok'); });
});
server.listen(0, '127.0.0.1', async () => {
  const c = net.connect(server.address().port, '127.0.0.1');
  c.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  let passes = 0;
  for (const chunk of chunks) {
    c.write(chunk.length.toString(16) + '\r\n' + chunk + '\r\n');
    passes += 1;
    await new Promise((done) => { want = [passes, done]; L('sent'); });
  }
  c.write('0\r\n\r\n');
  c.on('data', () => { c.end(); });
  c.on('close', () => { console.log(JSON.stringify(log.filter((x) => x !== 'sent'))); server.close(); });
});
"""


def run_prefork(serve):
    def on_request(req, res):
        def on_readable():
            st.record("readable %d" % req.readable_length)
            while (chunk := req.read(2)) is not None:
                st.record("read " + chunk.decode())
            st.record("pass")
        req.on("readable", on_readable)
        req.on("end", lambda: (st.record("end"), res.end("ok")))
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(HEAD)
        for passes, chunk in enumerate(CHUNKS, 1):
            sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            # the server read what it had and found too little to go on
            st.wait_for(lambda e, n=passes: [x[0] for x in st.events].count("pass") >= n)
        sock.sendall(b"0\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    st.wait_for(lambda e: e == ("end",))
    return st.call(lambda: [e[0] for e in st.events])


EXPECTED = ["readable 3", "read ab", "pass", "readable 5", "read cd", "read ef", "pass",
            "readable 2", "read gh", "pass", "readable 0", "pass", "end"]


def test_a_short_read_waits_for_more_bytes_before_the_next_readable(serve):
    seen = run_prefork(serve)
    assert seen == EXPECTED, seen
    if NODE:
        run = subprocess.run([NODE, "-e", NODE_PROGRAM, json.dumps([c.decode() for c in CHUNKS])],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1]) == seen
