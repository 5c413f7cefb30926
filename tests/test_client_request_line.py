"""What ``prefork.request`` refuses before anything is sent: a path or a method that
would split or bend the request line throws at once, with Node's codes, as
``http.request`` throws (compared with Node's own client)."""

import asyncio
import json
import subprocess

import pytest

import prefork
from harness import NODE
from test_client import ScriptedServer

# name -> options; each is also given to Node's http.request
CASES = {
    "path with a space": {"path": "/a b"},
    "path with CR LF (request splitting)": {"path": "/a HTTP/1.1\r\nHost: x\r\n\r\nDELETE /admin"},
    "path with a lone LF": {"path": "/a\nb"},
    "path with a tab": {"path": "/a\tb"},
    "path with DEL": {"path": "/a\x7fb"},
    "path with NUL": {"path": "/a\x00b"},
    "path beyond latin-1": {"path": "/\u0100"},
    "path in latin-1": {"path": "/caf\u00e9"},
    "path with punctuation": {"path": "/a?b=c&d=%20#!~*'()"},
    "empty path": {"path": ""},
    "method with a space": {"method": "GE T"},
    "method with CR LF (request splitting)": {"method": "GET /x HTTP/1.1\r\nX: y\r\n\r\nGET"},
    "method with a slash": {"method": "GET/"},
    "method beyond ASCII": {"method": "G\u00c9T"},
    "lower-case method": {"method": "patch"},
    "method with token punctuation": {"method": "M-SEARCH"},
    "empty method": {"method": ""},
    "bad path and bad method": {"path": "/a b", "method": "GE T"},
}

NODE_CHECKS = r"""
const http = require('http');
const cases = JSON.parse(process.argv[1]);
const out = {};
for (const [name, o] of Object.entries(cases)) {
  try {
    const req = http.request(Object.assign({host: '127.0.0.1', port: 1, agent: false}, o));
    req.on('error', () => {});
    out[name] = ['ok', req.method, req.path];
    req.destroy();
  } catch (e) { out[name] = ['throw', e.code, e.message]; }
}
console.log(JSON.stringify(out));
"""


def prefork_outcome(options):
    loop = asyncio.new_event_loop()
    try:
        req = prefork.request(dict({"host": "127.0.0.1", "port": 1, "agent": False}, **options), loop=loop)
    except (ValueError, TypeError) as err:
        return ["throw", err.code, str(err)]
    finally:
        loop.close()
    return ["ok", req.method, req.path]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_path_and_method_are_checked_as_node_checks_them():
    ours = {name: prefork_outcome(options) for name, options in CASES.items()}
    out = subprocess.run([NODE, "-e", NODE_CHECKS, json.dumps(CASES)], capture_output=True, text=True, timeout=30)
    assert ours == json.loads(out.stdout)
    assert ours["path with CR LF (request splitting)"][:2] == ["throw", "ERR_UNESCAPED_CHARACTERS"]
    assert ours["method with a space"] == ["throw", "ERR_INVALID_HTTP_TOKEN",
                                           'Method must be a valid HTTP token ["GE T"]']


def test_nothing_is_sent_for_a_refused_path():
    """The splitting attempt throws in ``request()``; the server sees no connection, and
    a good request made next on the same listening socket is the first one it gets."""
    server = ScriptedServer()
    try:
        server.serve([("head",), ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), ("close",)])
        loop = asyncio.new_event_loop()
        with pytest.raises(ValueError) as caught:
            prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False,
                             "path": "/a HTTP/1.1\r\nHost: x\r\n\r\nDELETE /admin"}, loop=loop)
        assert caught.value.code == "ERR_UNESCAPED_CHARACTERS"
        # a URL cannot split it either: its CR and LF are dropped, its space encoded (Node's URL rules)
        req = prefork.request(f"http://127.0.0.1:{server.port}/a b\r\nHost: x\r\n\r\nDELETE /admin", loop=loop)
        assert req.path == "/a%20bHost:%20xDELETE%20/admin"
        req.destroy()
        req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": False, "path": "/ok"}, loop=loop)
        req.on("response", lambda res: res.resume())
        req.on("close", loop.stop)
        guard = loop.call_later(10, loop.stop)
        loop.run_forever()
        guard.cancel()
        loop.close()
        server.wait()
        assert server.received == [b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % server.port]
    finally:
        server.close()
