"""A request with a ``readable`` listener stays in paused mode, as Node 20's: a
``resume()`` (or a ``data`` listener) does not make it flow, so the body still comes
through the listener's ``read()`` calls (it flowed to nobody: those bytes were lost to
the reader); and each chunk ``read()`` returns is also emitted as ``data``, as Node's
``read()`` does. The same client bytes, the second part after the server read the
first, go to Node's server too when Node is installed: the logs must match.
"""

import json
import socket
import subprocess

from harness import NODE

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const log = []; let want = null;
const L = (e) => { log.push(e); if (want && e === want[0]) { const w = want[1]; want = null; w(); } };
const server = http.createServer((req, res) => {
  req.on('readable', () => {
    let c;
    while ((c = req.read()) !== null) L('read ' + c);
    L('pass');
  });
  req.resume();
  L('flowing ' + req.readableFlowing);
  req.on('data', (c) => L('data ' + c));
  req.on('end', () => { L('end'); res.end('ok'); });
});
server.listen(0, '127.0.0.1', async () => {
  const c = net.connect(server.address().port, '127.0.0.1');
  c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab');
  await new Promise((done) => { want = ['read ab', done]; if (log.includes('read ab')) { want = null; done(); } });
  c.write('cd');
  c.on('data', () => c.end());
  c.on('close', () => { console.log(JSON.stringify(log)); server.close(); });
});
"""

EXPECTED = ["flowing false", "data ab", "read ab", "pass", "data cd", "read cd", "pass", "pass", "end"]


def test_a_readable_listener_keeps_paused_mode_and_reads_emit_data(serve):
    def on_request(req, res):
        def on_readable():
            while (chunk := req.read()) is not None:
                st.record("read " + chunk.decode())
            st.record("pass")
        req.on("readable", on_readable)
        req.resume()
        st.record("flowing " + str(req.readable_flowing).lower())
        req.on("data", lambda chunk: st.record("data " + chunk.decode()))
        req.on("end", lambda: (st.record("end"), res.end("ok")))
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        st.wait_for(lambda e: e == ("read ab",))
        sock.sendall(b"cd")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    st.wait_for(lambda e: e == ("end",))
    seen = st.call(lambda: [e[0] for e in st.events])
    assert seen == EXPECTED, seen
    if NODE:
        run = subprocess.run([NODE, "-e", NODE_PROGRAM], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1]) == seen
