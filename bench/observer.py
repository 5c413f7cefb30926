"""Instructions per response of the worker's response observer alone (callgrind).

Under callgrind a daemon runs about fifty times slower, so its responses take
milliseconds instead of tens of microseconds: the observer then takes the paths of
slow responses (durations past the µs table, sizes past the looked-up numbers), and
the once-a-second work of the worker weighs fifty times more per request.
bench/instructions.py counts those. This script counts the observer as a fast server
runs it: the observer compiled as a worker compiles it (access log in the default
format, metrics, or both), called on request and response objects shaped as the
server's, each response 100 µs after its request. The figure is the difference of two
runs (N and N + 10,000 calls) divided by 10,000, minus the same for a do-nothing
observer: what the observer adds to a response.

Usage: python3 bench/observer.py [--variants log,metrics,defaults] [--format FMT]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import asyncio, sys, time
sys.path.insert(0, ROOT)
from prefork import logs, metrics

class Peer:
    __slots__ = ("remote_address", "last_activity")

class Request:
    __slots__ = ("socket", "method", "url", "http_version", "headers", "start_time")

class Response:
    __slots__ = ("status_code", "bytes_sent")

    def get_header(self, name):
        return None

class Server:
    stats, connections = None, 0

peer = Peer()
peer.remote_address = "127.0.0.1"
req = Request()
req.socket, req.method, req.url, req.http_version, req.headers = peer, "GET", "/", "1.1", {"host": "x"}
res = Response()
res.status_code, res.bytes_sent = 200, 13
loop = asyncio.new_event_loop()
access = logs.AccessLog(PATH, FORMAT, 1.0)
counted = metrics.WorkerMetrics(Server())
observe = {"none": lambda: (lambda req, res: None), "log": lambda: access.observer(loop),
           "metrics": lambda: metrics.response_observer(counted),
           "defaults": lambda: access.observer(loop, counted)}[VARIANT]()
for _ in range(COUNT):
    peer.last_activity = time.monotonic()
    req.start_time = peer.last_activity - 0.0001
    observe(req, res)
"""


def instructions(variant, fmt, count, tmp):
    source = (CHILD.replace("ROOT", repr(ROOT)).replace("PATH", repr(os.path.join(tmp, "access.log")))
              .replace("FORMAT", repr(fmt)).replace("VARIANT", repr(variant)).replace("COUNT", str(count)))
    out = os.path.join(tmp, f"cg.{variant}.{count}")
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                             sys.executable, "-c", source], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONHASHSEED="0"), timeout=600)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind gave no total for {variant}:\n{result.stderr[-2000:]}")
    os.unlink(out)
    return int(match.group(1))


def per_call(variant, fmt, tmp):
    return (instructions(variant, fmt, 12000, tmp) - instructions(variant, fmt, 2000, tmp)) / 10000


def main():
    sys.path.insert(0, ROOT)
    from prefork.options import DEFAULT_ACCESS_FORMAT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="log,metrics,defaults")
    parser.add_argument("--format", default=DEFAULT_ACCESS_FORMAT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        floor = per_call("none", args.format, tmp)
        print(f"Command: python3 bench/observer.py --variants {args.variants} --format '{args.format}'")
        print("| variant | instructions per response |")
        print("|---|---|")
        for variant in args.variants.split(","):
            print(f"| {variant} | {per_call(variant, args.format, tmp) - floor:,.0f} |")


if __name__ == "__main__":
    main()
