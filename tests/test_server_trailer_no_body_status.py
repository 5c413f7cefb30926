"""A ``Trailer`` field on a 204 or 304 whose application set ``Transfer-Encoding:
chunked`` raises ERR_HTTP_TRAILER_INVALID as the head is fixed, as Node 20's
``_storeHeader`` throws (it drops the chunking of those statuses first); a HEAD answer
or another status with the same fields is sent. The same program runs on Node's own
server when Node is installed: the outcomes and bytes must match.
"""

import json
import re
import socket
import subprocess

from harness import NODE

CASES = [("GET", 204), ("GET", 304), ("HEAD", 200), ("GET", 200), ("GET", 205)]

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const out = [];
const server = http.createServer((req, res) => {
  res.statusCode = +req.url.slice(1);
  res.setHeader('Transfer-Encoding', 'chunked');
  res.setHeader('Trailer', 'x-t');
  try { res.end(); out.push('ok'); } catch (e) { out.push(e.code); res.destroy(); }
});
server.listen(0, '127.0.0.1', async () => {
  for (const [method, code] of JSON.parse(process.argv[1])) {
    await new Promise((done) => {
      const c = net.connect(server.address().port, '127.0.0.1');
      let got = '';
      c.on('data', (d) => { got += d.toString('latin1'); });
      c.on('error', () => {});
      c.on('close', () => { out.push(got.replace(/Date: [^\r]*\r\n/, '')); done(); });
      c.write(method + ' /' + code + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
  }
  console.log(JSON.stringify(out));
  server.close();
});
"""

CHUNKED = "Transfer-Encoding: chunked\r\nTrailer: x-t\r\nConnection: close\r\n\r\n"
EXPECTED = [
    "ERR_HTTP_TRAILER_INVALID", "",
    "ERR_HTTP_TRAILER_INVALID", "",
    "ok", "HTTP/1.1 200 OK\r\n" + CHUNKED,
    "ok", "HTTP/1.1 200 OK\r\n" + CHUNKED + "0\r\n\r\n",
    "ok", "HTTP/1.1 205 Reset Content\r\n" + CHUNKED + "0\r\n\r\n",
]


def test_a_trailer_on_a_204_or_304_is_refused_as_in_node(serve):
    out = []

    def on_request(req, res):
        res.status_code = int(req.url[1:])
        res.set_header("Transfer-Encoding", "chunked")
        res.set_header("Trailer", "x-t")
        try:
            res.end()
            out.append("ok")
        except Exception as exc:
            out.append(getattr(exc, "code", repr(exc)))
            res.destroy()
    st = serve(lambda server, _: server.on("request", on_request))
    for method, code in CASES:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(f"{method} /{code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            got = b""
            while chunk := sock.recv(65536):
                got += chunk
        out.append(re.sub(r"Date: [^\r]*\r\n", "", got.decode("latin-1")))
    seen = st.call(list, out)
    assert seen == EXPECTED, seen
    if NODE:
        run = subprocess.run([NODE, "-e", NODE_PROGRAM, json.dumps(CASES)], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1]) == seen
