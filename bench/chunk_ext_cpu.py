"""Server CPU under a chunk-extension trickle, prefork against Node, side by side.

Each server (pinned to core 0) gets the same load from a generator pinned to core 1:
CONNECTIONS connections, each one chunked POST whose body is trickled as
``1;a=b\\r\\nx\\r\\n`` chunks in small writes at RATE bytes/s, for SECONDS seconds; then the
body ends and the response is read. The server's CPU time (utime + stime from /proc)
over the trickle is reported for both, and the ratio. Rounds alternate the servers.

    python bench/chunk_ext_cpu.py [--seconds 10] [--connections 4] [--rate 20000] [--rounds 2]

Both apps read the whole body and answer at its end.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PREFORK_APP = r"""
import sys
sys.path.insert(0, sys.argv[1])
import prefork
def on_request(req, res):
    size = [0]
    req.on("data", lambda chunk: size.__setitem__(0, size[0] + len(chunk)))
    req.on("end", lambda: res.end("read %d" % size[0]))
server = prefork.create_server(on_request)
server.listen(0)
print(server.address()["port"], flush=True)
server.loop.run_forever()
"""

NODE_APP = r"""
const http = require('http');
const server = http.createServer((req, res) => {
  let size = 0;
  req.on('data', (chunk) => { size += chunk.length; });
  req.on('end', () => res.end('read ' + size));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"""

LOAD = r"""
import socket, sys, time
port, conns, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
piece = b"1;a=b\r\nx\r\n" * 10
socks = []
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    socks.append(s)
print("start", flush=True)
interval = len(piece) / rate
start = time.monotonic()
sent = 0
tick = start
while tick - start < seconds:
    for s in socks:
        s.sendall(piece)
        sent += len(piece)
    tick += interval
    delay = tick - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print("stop", flush=True)
for s in socks:
    s.sendall(b"0\r\n\r\n")
    s.settimeout(10)
    reply = b""
    while b"read " not in reply:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
    s.close()
print(f"sent {sent}", flush=True)
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name, args):
    if name == "prefork":
        cmd = ["taskset", "-c", "0", sys.executable, "-c", PREFORK_APP, ROOT]
    else:
        cmd = ["taskset", "-c", "0", "node", "-e", NODE_APP]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        load = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", LOAD, str(port),
                                 str(args.connections), str(args.rate), str(args.seconds)],
                                stdout=subprocess.PIPE, text=True)
        assert load.stdout.readline().strip() == "start"
        before = cpu_seconds(server.pid)
        assert load.stdout.readline().strip() == "stop"
        used = cpu_seconds(server.pid) - before
        sent = int(load.stdout.readline().split()[1])
        if load.wait(30) != 0:
            raise RuntimeError(f"the load generator failed against {name}")
        return used, sent
    finally:
        server.kill()
        server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rate", type=int, default=20000, help="bytes/s per connection")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    totals = {"prefork": 0.0, "node": 0.0}
    for round_ in range(args.rounds):
        for name in ("prefork", "node") if round_ % 2 == 0 else ("node", "prefork"):
            used, sent = measure(name, args)
            totals[name] += used
            print(f"round {round_ + 1} {name:8s} cpu {used:6.2f} s over {args.seconds:.0f} s "
                  f"({100 * used / args.seconds:5.1f}%), {sent} body bytes", flush=True)
    ratio = totals["prefork"] / totals["node"] if totals["node"] else float("inf")
    print(f"total: prefork {totals['prefork']:.2f} s, node {totals['node']:.2f} s, "
          f"ratio prefork/node {ratio:.2f}")


if __name__ == "__main__":
    main()
