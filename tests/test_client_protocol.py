"""A client request names its scheme, and only ``http:`` is spoken: an ``https:`` URL
(or ``protocol`` option) is refused at once with Node's ERR_INVALID_PROTOCOL instead of
being sent in the clear to port 80 with its credentials, and a URL without a scheme or a
host is ERR_INVALID_URL. Each case is checked against Node's own ``http.request``."""

import asyncio
import json
import socket
import subprocess

import pytest

import prefork
from harness import NODE

CASES = [
    ("https://127.0.0.1:{port}/secret", None),
    ("HTTPS://127.0.0.1:{port}/", None),
    ("ftp://127.0.0.1:{port}/", None),
    ("127.0.0.1:{port}/x", None),
    ("/relative", None),
    (None, {"host": "127.0.0.1", "port": "{port}", "protocol": "https:"}),
]

NODE_SCRIPT = r"""
const http = require('http');
const cases = JSON.parse(process.argv[1]);
const out = [];
for (const [url, options] of cases) {
  try { const req = url !== null ? http.request(url) : http.request(options); req.on('error', () => {}); req.destroy(); out.push(null); }
  catch (e) { out.push(e.code); }
}
console.log(JSON.stringify(out));
"""


def fill(value, port):
    if isinstance(value, str):
        return value.replace("{port}", str(port))
    if isinstance(value, dict):
        return {k: fill(v, port) for k, v in value.items()}
    return value


def codes_of_prefork(cases):
    out = []
    for url, options in cases:
        try:
            req = prefork.request(url if url is not None else options)
        except ValueError as exc:
            out.append(exc.code)
        else:
            req.destroy()
            out.append(None)
    return out


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_only_http_is_spoken_as_node_refuses_the_rest():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        cases = [(fill(url, port), fill(options, port)) for url, options in CASES]
        for _, options in cases:
            if options is not None:
                options["port"] = int(options["port"])
        node = subprocess.run([NODE, "-e", NODE_SCRIPT, json.dumps(cases)], capture_output=True, text=True,
                              timeout=30)
        theirs = json.loads(node.stdout)

        async def main():
            return codes_of_prefork(cases)
        ours = asyncio.run(main())
        listener.setblocking(False)
        try:
            conn, _ = listener.accept()
            conn.close()
            leaked = True
        except BlockingIOError:
            leaked = False
    finally:
        listener.close()
    assert ours == theirs == ["ERR_INVALID_PROTOCOL", "ERR_INVALID_PROTOCOL", "ERR_INVALID_PROTOCOL",
                              "ERR_INVALID_URL", "ERR_INVALID_URL", "ERR_INVALID_PROTOCOL"], (ours, theirs)
    assert not leaked  # nothing was sent anywhere
