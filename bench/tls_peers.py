"""TLS keep-alive hello world: the prefork daemon (one worker) against Node's ``https``.

Both get the same ECDSA P-256 certificate (made here with the openssl command) and
answer ``Hello, World!``; wrk keeps its connections alive, so the figure is the cost of
records, not of handshakes. Each server's whole process tree runs pinned to core 0,
``wrk -t1 -c32`` pinned to core 1; rounds are interleaved (prefork, node, prefork, ...)
and the medians are compared. Besides requests per second it reports the CPU time the
server's processes used per request (from /proc), which a busy machine disturbs less,
and the TLS version and cipher each server gives a client with OpenSSL's defaults (as
wrk's are): the same for both (TLSv1.3, TLS_AES_256_GCM_SHA384), else it says so.
``--loop uvloop`` runs prefork on uvloop; ``--plain`` runs the same pair without TLS
(prefork plain, Node's ``http``), the reference that shows what TLS costs each. prefork
runs with its access log and metrics off (Node has neither); ``--defaults`` turns both
on, as the daemon's defaults have them (the access log to a file in the run's
temporary directory, the metrics on a loopback port).

``--instructions N`` counts instead: each of the four servers (prefork's standalone
event server, bench/https_hello_prefork.py, and Node; TLS and plain) runs under
``valgrind --tool=callgrind``; after a warm-up its counters are
zeroed (``callgrind_control -z``), N keep-alive hello requests are sent on 16
connections opened (and shaken hands on) before, and the instructions of the serving process per request are read from a
dump. Deterministic, so it can be quoted on a busy machine (it leaves out system-call
time in the kernel, which is the same two calls per request for both). Runs of the same
code still differ by a few hundred instructions per request (each run's handshakes leave
the heap laid out differently, which moves malloc's cost): compare changes smaller than
that over several runs.

Usage: python3 bench/tls_peers.py [rounds] [seconds] [--loop uvloop] [--plain] [--defaults]   (loopback only)
       python3 bench/tls_peers.py --instructions N [--loop uvloop]
"""

import os
import re
import glob
import shutil
import signal
import socket
import ssl
import statistics
import time
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from suite import free_port, wait_port  # noqa: E402


def make_certificate(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def command(name, port, cert, key, loop, observed=None):
    """``observed``: a directory for the access log, with the metrics on (the defaults);
    None: both off."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
    observe = ["--access-log", "", "--metrics-bind", ""] if observed is None else \
        ["--access-log", os.path.join(observed, "access.log"), "--metrics-bind", "127.0.0.1:0"]
    if cert is None:  # --plain
        if name == "prefork":
            return [sys.executable, "-m", "prefork", "apps.hello:setup", "--workers", "1", "--loop", loop,
                    "--bind", f"127.0.0.1:{port}"] + observe, env
        return ["node", os.path.join(ROOT, "bench", "hello_node.js"), str(port)], env
    if name == "prefork":
        return [sys.executable, "-m", "prefork", "apps.hello:setup", "--workers", "1", "--loop", loop,
                "--bind", f"https://127.0.0.1:{port}", "--certfile", cert, "--keyfile", key] + observe, env
    if name == "node":
        return ["node", os.path.join(ROOT, "bench", "https_hello_node.js"), str(port), cert, key], env
    raise ValueError(name)


def cpu_seconds(session):
    """User + system CPU seconds of every process in ``session`` (threads included)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run(name, seconds, cert, key, loop, observed=None, ciphers=None):
    """``ciphers``: a dict given the version and cipher the server negotiates (TLS only)."""
    port = free_port()
    cmd, env = command(name, port, cert, key, loop, observed)
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, env=env, cwd=TESTS, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        if cert is not None and ciphers is not None and name not in ciphers:
            ciphers[name] = negotiated(port)
        cpu_before = cpu_seconds(proc.pid)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s",
                              f"{'http' if cert is None else 'https'}://127.0.0.1:{port}/"], capture_output=True, text=True,
                             timeout=seconds + 30).stdout
        errors = re.search(r"Socket errors: (.*)", out)
        if errors or "Non-2xx" in out:
            print(f"  {name}: {errors.group(0) if errors else 'non-2xx responses'}", file=sys.stderr)
        cpu = cpu_seconds(proc.pid) - cpu_before
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), cpu / max(requests, 1) * 1e6
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def negotiated(port):
    """The TLS version and cipher a client with OpenSSL's defaults (as wrk's) gets from the
    server at ``port``: the pair must be the same for both servers, or the comparison is
    of two ciphers."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30)) as sock:
        return f"{sock.version()} {sock.cipher()[0]}"


def open_connections(port, tls, connections=16):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    socks = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=300)
        socks.append(context.wrap_socket(sock) if tls else sock)
    return socks


def drive(socks, count):
    """``count`` keep-alive hello requests on ``socks``, one in flight on each."""
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    done = 0
    while done < count:
        batch = socks[:min(len(socks), count - done)]
        for sock in batch:
            sock.sendall(request)
        for sock in batch:
            data = b""
            while not data.endswith(b"Hello, World!"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {data!r}")
                data += chunk
        done += len(batch)


def instructions(name, tls, count, cert, key, tmp, loop="asyncio"):
    port = free_port()
    cmd, env = command(name, port, cert if tls else None, key, loop)
    env["PREFORK_LOOP"] = loop
    if name == "prefork":  # one process, so callgrind_control reaches it (a forked worker it does not)
        cmd = [sys.executable, os.path.join(ROOT, "bench", "https_hello_prefork.py"), str(port)] + \
            ([cert, key] if tls else [])
    out = os.path.join(tmp, f"cg-{name}-{tls}")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--cache-sim=no", "--branch-sim=no",
                             "--smc-check=all-non-file", f"--callgrind-out-file={out}.%p"] + cmd,
                            env=env, cwd=TESTS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = proc.pid
    socks = []
    try:
        wait_port(port, timeout=300)
        socks = open_connections(port, tls)  # the handshakes stay out of the count
        drive(socks, 2000)  # warm-up: imports, caches, the JIT
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True, timeout=300)
        drive(socks, count)
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True, timeout=300)
        deadline = time.monotonic() + 120
        while not glob.glob(f"{out}.*.*"):  # the dump is written when the process next runs
            if time.monotonic() > deadline:
                raise RuntimeError(f"no dump from {name} (pid {pid}): {os.listdir(tmp)}")
            time.sleep(0.5)
        time.sleep(1)
        dumps = sorted(glob.glob(f"{out}.*.*"))
        with open(dumps[-1]) as fh:
            total = int(re.search(r"^(?:summary|totals): (\d+)", fh.read(), re.M).group(1))
        return total / count
    finally:
        for sock in socks:
            sock.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def count_instructions(count, loop):
    results = {}
    with tempfile.TemporaryDirectory(prefix="prefork-tls-callgrind-") as tmp:
        cert, key = make_certificate(tmp)
        for name in ("prefork", "node"):
            for tls in (True, False):
                results[(name, tls)] = instructions(name, tls, count, cert, key, tmp, loop)
                print(f"{name:8} {'https' if tls else 'http ':5} {results[(name, tls)]:>10,.0f} instructions/request",
                      flush=True)
    for name in ("prefork", "node"):
        extra = results[(name, True)] - results[(name, False)]
        print(f"{name}: TLS adds {extra:,.0f} instructions/request ({extra / results[(name, False)] * 100:+.0f}%)")
    print(f"prefork / node, https: {results[('node', True)] / results[('prefork', True)]:.2f}x "
          f"(node's instructions over prefork's); http: {results[('node', False)] / results[('prefork', False)]:.2f}x")


def main():
    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage is the docstring
        sys.exit(print(__doc__))
    args = sys.argv[1:]
    loop = "asyncio"
    if "--loop" in args:
        at = args.index("--loop")
        loop = args[at + 1]
        del args[at:at + 2]
    if "--instructions" in args:
        count_instructions(int(args[args.index("--instructions") + 1]), loop)
        return
    plain = "--plain" in args
    if plain:
        args.remove("--plain")
    defaults = "--defaults" in args
    if defaults:
        args.remove("--defaults")
    rounds = int(args[0]) if args else 3
    seconds = int(args[1]) if len(args) > 1 else 5
    for tool in ("wrk", "node", "openssl", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed")
    names = ("prefork", "node")
    results = {name: [] for name in names}
    cpu = {name: [] for name in names}
    ciphers = {}
    with tempfile.TemporaryDirectory(prefix="prefork-tls-bench-") as tmp:
        cert, key = (None, None) if plain else make_certificate(tmp)
        for _ in range(rounds):
            for name in names:
                rate, cpu_per_request = run(name, seconds, cert, key, loop, tmp if defaults else None, ciphers)
                results[name].append(rate)
                cpu[name].append(cpu_per_request)
    for name, suite in ciphers.items():
        print(f"{name:8} negotiates {suite}")
    if len(set(ciphers.values())) > 1:
        print("the servers negotiate different ciphers: the comparison is not of the same work", file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in results.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    for name in names:
        print(f"{name:8} {medians[name]:>10,.0f} req/s  (rounds: {', '.join(f'{v:,.0f}' for v in results[name])})"
              f"  {cpu_medians[name]:6.1f} us CPU/request")
    print(f"prefork ({loop}{', plain' if plain else ''}{', access log and metrics on' if defaults else ''}) / node {'http' if plain else 'https'} = {medians['prefork'] / medians['node']:.2f}x req/s, "
          f"{cpu_medians['node'] / cpu_medians['prefork']:.2f}x by CPU per request")


if __name__ == "__main__":
    main()
