"""README.md's Python samples, taken from the README itself and run as a reader runs them:
the standalone server answers as its comments say, and the events quick start, the
client sample and the async handler sample serve through the real daemon against a real
upstream. Only the fixed ports are replaced (port 0 here, the upstream's real port)."""

import http.server
import os
import re
import socket
import subprocess
import sys
import threading

from daemon import Daemon, python_env
from harness import read_until_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_blocks():
    with open(os.path.join(ROOT, "README.md")) as fh:
        text = fh.read()
    return [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)]


def _block(starting):
    found = [b for b in _python_blocks() if b.lstrip().startswith(starting)]
    assert len(found) == 1, f"README.md has no single python sample starting with {starting!r}"
    return found[0]


def _replace(text, old, new):
    assert old in text, f"the README sample no longer has {old!r}:\n{text}"
    return text.replace(old, new)


def _exchange(port, data):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(data)
        return read_until_close(sock)
    finally:
        sock.close()


def _get(port, path):
    return _exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())


def test_the_readme_standalone_server_answers_as_its_comments_say(tmp_path):
    code = _block("import prefork\n\ndef on_request")
    code = _replace(code, 'server.listen(8080, "127.0.0.1")', 'server.listen(0, "127.0.0.1")')
    code = _replace(code, "server.loop.run_forever()",
                    "server.on('listening', lambda: print(server.address()['port'], flush=True))\n"
                    "server.loop.run_forever()")
    (tmp_path / "standalone.py").write_text(code)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "standalone.py")], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=python_env(), text=True)
    try:
        port = int(proc.stdout.readline())
        plain = _get(port, "/x")
        head, _, body = plain.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), plain
        assert b"\r\nContent-Type: text/plain\r\n" in head and b"\r\nContent-Length: 18" in head, plain
        assert body == b"hello from GET /x\n"
        chunked = _get(port, "/stream")
        head, _, body = chunked.partition(b"\r\n\r\n")
        assert b"\r\nTransfer-Encoding: chunked" in head, chunked
        assert body == b"a\r\nchunk one\n\r\na\r\nchunk two\n\r\n0\r\n\r\n", chunked
        bad = _exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
        assert bad == b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", bad
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"data": [1, 2, 3]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_readme_events_client_and_async_samples_serve_through_the_daemon(tmp_path):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{upstream.server_address[1]}/data"
    (tmp_path / "myapp.py").write_text(_block("# myapp.py"))
    client = _replace(_block("def on_request(req, res):\n    upstream = prefork.get"),
                      "http://127.0.0.1:9000/data", url)
    (tmp_path / "clientapp.py").write_text("import prefork\n\n" + client +
                                           "\n\ndef setup(server):\n    server.on('request', on_request)\n")
    (tmp_path / "asyncapp.py").write_text(_replace(_block("import asyncio\nimport prefork"),
                                                   "http://127.0.0.1:9000/data", url))
    daemons = []
    try:
        for app in ("myapp", "clientapp:setup", "asyncapp"):
            daemons.append(Daemon("--app-dir", str(tmp_path), app=app, workers=1))
        for daemon in daemons:
            daemon.wait_ready()
        assert daemons[0].request("/").endswith(b"\r\n\r\nhello\n")
        for daemon in daemons[1:]:
            answer = daemon.request("/")
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK") and b"\r\nContent-Type: application/json" in head, answer
            if b"chunked" in head:
                body = re.sub(rb"(?m)^[0-9a-f]+\r\n", b"", body).replace(b"\r\n", b"")
            assert body == b'{"data": [1, 2, 3]}', answer
        upstream.shutdown()
        upstream.server_close()
        refused = daemons[1].request("/")
        assert refused.startswith(b"HTTP/1.1 502 Bad Gateway") and b"ECONNREFUSED" in refused, refused
        assert daemons[2].request("/").startswith(b"HTTP/1.1 500 "), daemons[2].log()
    finally:
        upstream.shutdown()
        upstream.server_close()
        for daemon in daemons:
            daemon.cleanup()
