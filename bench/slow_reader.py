"""What a slow reader of a large response costs the worker: CPU seconds per response.

The daemon (one worker, pinned to core 0) answers ``/big/N`` with one ``res.end`` of N
bytes (tests/apps/journey_net.py), on a plain and a TLS listener. A client pinned to
core 1 reads it 64 KiB at a time with a pause after each read (a slow reader: the
worker's writes stall and resume many times), then the same with no pause (a fast
reader). The worker's CPU time per response comes from /proc, the median of the rounds.
CPU time is disturbed less than wall time by a busy machine, but it is not exact: quote
it as indicative.

Usage: python3 bench/slow_reader.py [rounds] [MB] [pause_ms]
"""

import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, TESTS)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def certificate(tmp):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost"],
                   cwd=tmp, check=True, capture_output=True)
    return os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")


def read_response(port, secure, size, pause):
    raw = socket.create_connection(("127.0.0.1", port), timeout=120)
    if secure:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        raw = context.wrap_socket(raw)
    with raw as sock:
        sock.sendall(b"GET /big/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % size)
        total = 0
        while True:
            chunk = sock.recv(64 * 1024)
            if not chunk:
                return total
            total += len(chunk)
            if pause:
                time.sleep(pause)


def main():
    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage is the docstring
        sys.exit(print(__doc__))
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    size = int(sys.argv[2] if len(sys.argv) > 2 else 64) * 1024 * 1024
    pause = float(sys.argv[3] if len(sys.argv) > 3 else 2) / 1000
    os.sched_setaffinity(0, {1})
    from daemon import Daemon, wait_until
    tmp = tempfile.mkdtemp(prefix="slow-reader-")
    cert, key = certificate(tmp)
    daemon = Daemon("--certfile", cert, "--keyfile", key, "--bind", "http://127.0.0.1:0",
                    app="apps.journey_net:setup", workers=1)
    try:
        daemon.wait_ready()
        import re
        plain = int(re.search(r"listening at 127\.0\.0\.1:(\d+) \(http://", daemon.log()).group(1))
        worker = wait_until(lambda: daemon.workers(), 10)[0]
        os.sched_setaffinity(worker, {0})
        for name, port, secure in (("plain", plain, False), ("tls", daemon.port, True)):
            for reader, wait in (("slow", pause), ("fast", 0)):
                costs = []
                for _ in range(rounds):
                    before = cpu_seconds(worker)
                    assert read_response(port, secure, size, wait) > size
                    costs.append(cpu_seconds(worker) - before)
                print(f"{name:5} {reader} reader: {statistics.median(costs):.3f} s of worker CPU per "
                      f"{size >> 20} MB response (rounds: {', '.join(f'{c:.2f}' for c in costs)})")
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    main()
