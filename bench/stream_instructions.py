"""Instructions per streamed response (callgrind), by interface: the cost of a body
written in several pieces, where bench/instructions.py measures one-piece answers.

A standalone server (one process, no daemon) answers each ``GET /`` with CHUNKS pieces of
100 bytes and then the end: ``res.write`` x CHUNKS then ``res.end()`` (events), a
generator of CHUNKS blocks (wsgi), CHUNKS ``more_body`` messages then an empty last one
(asgi). It runs under ``valgrind --tool=callgrind`` twice, serving N and 2N keep-alive
requests (16 connections, one request in flight on each); the figure is the difference
divided by N (start-up and shutdown cancel out). Given CHECKOUT, the server runs that
checkout's prefork (to compare two commits: ``git worktree add /tmp/old COMMIT``).

Usage: python3 bench/stream_instructions.py [--interfaces events,wsgi,asgi] [--requests N]
                                           [--chunks C] [--checkout DIR]
       python3 bench/stream_instructions.py --serve KIND CHUNKS fd://N   (the server)
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
from instructions import drive as shared_drive, one_profile  # noqa: E402

PIECE = b"x" * 100
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def serve(kind, chunks, where):
    from prefork import create_server
    from prefork.runtime import new_event_loop
    loop = new_event_loop("asyncio")
    listener = socket.socket(fileno=int(where[len("fd://"):]))
    if kind == "events":
        def on_request(req, res):
            res.set_header("Content-Type", "text/plain")
            for _ in range(chunks):
                res.write(PIECE)
            res.end()
        server = create_server(on_request, loop=loop)
    elif kind == "wsgi":
        from prefork.wsgi import WSGIAdapter

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            for _ in range(chunks):
                yield PIECE
        server = create_server(loop=loop)
        WSGIAdapter(app).setup(server)
    else:
        from prefork.asgi import ASGIAdapter

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            for _ in range(chunks):
                await send({"type": "http.response.body", "body": PIECE, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        server = create_server(loop=loop)
        adapter = ASGIAdapter(app).setup(server)
        loop.run_until_complete(adapter.startup())
    server.listen(sock=listener)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()


def drive(port, count, connections=16):
    """Streamed responses end with the last chunk."""
    shared_drive(port, count, connections, request=REQUEST, ending=b"\r\n0\r\n\r\n")


def instructions(kind, chunks, count, checkout):
    tmp = tempfile.mkdtemp(prefix="bench-stream-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=checkout)
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
           f"--callgrind-out-file={tmp}/cg.%p", sys.executable, os.path.abspath(__file__),
           "--serve", kind, str(chunks), f"fd://{listener.fileno()}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            pass_fds=(listener.fileno(),), env=env, cwd=tmp)
    listener.close()
    return one_profile(proc, tmp, f"{kind} server", lambda: drive(port, count))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", nargs=3)
    parser.add_argument("--interfaces", default="events,wsgi,asgi")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--checkout", default=os.path.dirname(BENCH))
    args = parser.parse_args()
    if args.serve:
        kind, chunks, where = args.serve
        return serve(kind, int(chunks), where)
    checkout = os.path.abspath(args.checkout)
    print(f"{checkout}: {args.chunks} pieces of {len(PIECE)} bytes, {args.requests} requests")
    for kind in args.interfaces.split(","):
        one = instructions(kind, args.chunks, args.requests, checkout)
        two = instructions(kind, args.chunks, 2 * args.requests, checkout)
        print(f"{kind:8} {(two - one) / args.requests:12,.0f} instructions per response", flush=True)


if __name__ == "__main__":
    main()
