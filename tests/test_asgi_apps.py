"""The ASGI app the test_asgi_connect, test_asgi_target and
test_asgi_websocket_edges tests serve with prefork (in the test process)
and with uvicorn (a process of its own), and the uvicorn peer (this module holds no
tests)."""

import contextlib
import json
import signal
import socket
import subprocess
import sys

from daemon import HERE, python_env, wait_until

CALLS = []  # (type, method, path) of every scope the app was called with, in this process


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    CALLS.append((kind, scope.get("method"), path))
    if kind == "websocket":
        await receive()
        if path == "/deny":
            await send({"type": "websocket.close"})
            return
        if path == "/deny-stream":  # a denial with a long body: 64 pieces of 256 KiB
            await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
            for _ in range(64):
                await send({"type": "websocket.http.response.body", "body": b"d" * 262144, "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b""})
            CALLS.append(("denial sent",))
            return
        await send({"type": "websocket.accept"})
        if path == "/long-reason":  # 200 bytes of UTF-8: more than a close frame carries
            try:
                await send({"type": "websocket.close", "code": 4001, "reason": "\u00e9" * 100})
            except Exception as exc:
                CALLS.append(("raised", type(exc).__name__, str(exc)))
            return
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})
    if path.endswith("/scope"):  # the fields a request target and its Host give
        fields = {key: scope[key].decode("latin-1") if isinstance(scope[key], bytes) else scope[key]
                  for key in ("path", "raw_path", "query_string", "root_path", "scheme")}
        fields["server"] = list(scope["server"])
        fields["headers"] = [[name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]]
        body = json.dumps(fields).encode()
    else:
        body = f"{scope['method']} {path}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /up HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            return sock.recv(4096).startswith(b"HTTP/1.1 200 ")
    except OSError:
        return False


@contextlib.contextmanager
def uvicorn_serving(target="test_asgi_apps:app", *options):
    """uvicorn (its defaults: httptools, websockets) serving ``target`` on a socket bound
    here to port 0; yields the port; the process is killed by its PID at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", target, "--fd", str(sock.fileno()),
                             "--no-access-log", "--log-level", "warning", *options],
                            pass_fds=(sock.fileno(),), env=python_env(), cwd=HERE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    try:
        wait_until(lambda: answers(port), 20, what="uvicorn answering")
        yield port
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
