"""Python-level calls per keep-alive hello request of the event server, in process.

With ``--interface wsgi`` the server runs bench/apps.py's WSGI app through the WSGI
adapter (``threads = 1``, as a worker plugs it in) instead of an events handler; with
``--interface asgi``, its ASGI app through the ASGI adapter (no lifespan run).

The server runs on its own loop thread; this thread sends one request at a time on one
keep-alive connection. ``sys.setprofile`` on the loop thread counts every call (Python
functions and builtins) made between two points; the difference between runs of N and
2N requests, divided by N, is the per-request count. ``--profile`` prints cProfile's
table for the same run instead.

Usage: python3 bench/calls.py [--requests N] [--variant bare|defaults] [--loop asyncio|uvloop]
                              [--interface events|wsgi|asgi] [--profile] [--opcodes] [--top K]
"""

import argparse
import collections
import cProfile
import os
import pstats
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork import logs  # noqa: E402
from prefork.metrics import WorkerMetrics  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402
from prefork.settings import BY_NAME, DEFAULT_ACCESS_FORMAT  # noqa: E402
from prefork.worker import SERVER_KNOBS  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apps  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = b"Hello, World!"


class Rig:
    """An event server on a loop thread; ``variant`` 'defaults' adds the access log (to a
    temporary file, flushed only by size) and the metrics, as a worker sets them up."""

    def __init__(self, variant="bare", loop="asyncio", interface="events"):
        self.loop = new_event_loop(loop)
        # the server's knobs at the daemon's defaults, as a worker makes its server
        knobs = {knob: BY_NAME[knob].default for knob in SERVER_KNOBS}
        if interface == "wsgi":
            from prefork.wsgi import WSGIAdapter
            self.server = prefork.create_server(loop=self.loop, **knobs)
            WSGIAdapter(apps.wsgi).setup(self.server)
        elif interface == "asgi":
            from prefork.asgi import ASGIAdapter
            self.server = prefork.create_server(loop=self.loop, **knobs)
            ASGIAdapter(apps.asgi).setup(self.server)
        else:
            self.server = prefork.create_server(lambda req, res: res.end(BODY), loop=self.loop, **knobs)
        self.access = None
        if variant == "defaults":
            self.tmp = tempfile.mkdtemp(prefix="prefork-calls-")
            self.access = logs.AccessLog(os.path.join(self.tmp, "access.log"), DEFAULT_ACCESS_FORMAT, 3600.0)
            metrics = WorkerMetrics(self.server)
            self.server.response_observer = self.access.observer(self.loop, metrics)  # as a worker wires it
        self.server.listen(0)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = socket.create_connection(("127.0.0.1", self.server.address()["port"]), timeout=30)

    def on_loop(self, fn, *args):
        done = threading.Event()
        box = []
        self.loop.call_soon_threadsafe(lambda: (box.append(fn(*args)), done.set()))
        done.wait(30)
        return box[0] if box else None

    def requests(self, count):
        for _ in range(count):
            self.client.sendall(REQUEST)
            data = b""
            while not data.endswith(BODY):
                chunk = self.client.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
        self.requests_sync()

    def requests_sync(self):
        # the last response's 'finish' runs on a later loop turn: wait until it has
        self.on_loop(lambda: None)
        self.on_loop(lambda: None)

    def counted(self, count, by_function=None):
        """Calls made on the loop thread while ``count`` requests are served."""
        total = [0]

        def profile(frame, event, arg):
            if event == "call":
                total[0] += 1
                if by_function is not None:
                    code = frame.f_code
                    by_function[f"{os.path.basename(code.co_filename)}:{code.co_name}"] += 1
            elif event == "c_call":
                total[0] += 1
                if by_function is not None:
                    by_function[f"<builtin>:{getattr(arg, '__qualname__', arg)}"] += 1
        self.on_loop(sys.setprofile, profile)
        self.requests(count)
        self.on_loop(sys.setprofile, None)
        return total[0]

    def opcodes(self, count, by_function):
        """Bytecodes executed on the loop thread, by function, while ``count`` requests are served."""
        def trace(frame, event, arg):
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            code = frame.f_code
            key = f"{os.path.basename(code.co_filename)}:{code.co_name}"

            def local(frame, event, arg):
                if event == "opcode":
                    by_function[key] += 1
                return local
            return local
        self.on_loop(sys.settrace, trace)
        self.requests(count)
        self.on_loop(sys.settrace, None)

    def close(self):
        self.client.close()
        self.on_loop(self.server.close_all_connections)
        self.on_loop(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        if self.access is not None:
            self.access.close()


def calls_per_request(variant="bare", loop="asyncio", count=200, by_function=None, interface="events"):
    rig = Rig(variant, loop, interface)
    try:
        rig.requests(20)  # warm: the Date line, the first-request paths
        one = rig.counted(count)
        two = rig.counted(2 * count, by_function)
        return (two - one) / count
    finally:
        rig.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--variant", default="bare", choices=("bare", "defaults"))
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--interface", default="events", choices=("events", "wsgi", "asgi"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--opcodes", action="store_true", help="bytecodes executed per function")
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    if args.profile:
        rig = Rig(args.variant, args.loop, args.interface)
        rig.requests(20)
        prof = cProfile.Profile()
        rig.on_loop(prof.enable)
        rig.requests(args.requests)
        rig.on_loop(prof.disable)
        rig.close()
        stats = pstats.Stats(prof)
        total = sum(v[1] for v in stats.stats.values())
        print(f"{total / args.requests:.1f} calls/request (cProfile)")
        stats.sort_stats("tottime").print_stats(args.top)
        return
    if args.opcodes:
        rig = Rig(args.variant, args.loop, args.interface)
        rig.requests(20)
        counts = collections.Counter()
        rig.opcodes(args.requests, counts)
        rig.close()
        print(f"{sum(counts.values()) / args.requests:.1f} bytecodes/request")
        for name, n in counts.most_common(args.top):
            print(f"{n / args.requests:8.1f}  {name}")
        return
    by_function = collections.Counter()
    per = calls_per_request(args.variant, args.loop, args.requests, by_function, args.interface)
    print(f"{args.interface} {args.variant} on {args.loop}: {per:.2f} calls/request")
    for name, n in sorted(by_function.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"{n / (2 * args.requests):8.2f}  {name}")


if __name__ == "__main__":
    main()
