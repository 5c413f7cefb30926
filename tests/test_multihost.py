"""Three prefork hosts behind HAProxy, each host a network namespace of its own
(tests/netns.py), under continuous load through the balancer while they are redeployed,
reloaded, killed and scraped.

HAProxy runs ``deploy/haproxy.cfg`` as shipped, in the balancer's namespace, on a socket
this test bound on loopback (``fd@N``), with only the marked lines changed: its stats
socket, its frontend, and the three hosts' addresses. It checks each host's readiness on
the metrics listener, sends PROXY v2 headers, and retries idempotent requests. The load:
keep-alive client threads, GET and POST, each with one request in flight at a time.

Scenarios (each prints its request count and failures):
1. rolling deploy, host by host: readiness withdrawn, drained, stopped, the new app
   version started, ready again: no failed request, and every answer to a request sent
   after the deploy comes from the new version;
2. rolling HUP (a config change) on every host: no failed request;
3. ``kill -9`` of one host's whole process tree: HAProxy marks it down within its check
   interval; failed requests at most the requests in flight (one per client thread, and
   only POSTs: HAProxy retries the GETs); the host rejoins when restarted;
4. one Prometheus scrapes the three hosts; the sum of ``prefork_requests_total`` across
   them moves by exactly the requests HAProxy counted.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

import debian
import haproxy
import netns
from daemon import ROOT, alive, cmdline, children, python_env, wait_until

HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy.cfg")
APP_PORT, METRICS_PORT, PROMETHEUS_PORT = 8000, 9464, 9090
THREADS = 6  # client threads: even ones GET only, odd ones alternate GET and POST
CHECK_INTERVAL = 0.5  # deploy/haproxy.cfg: inter 500ms fastinter 250ms fall 2
GRACE = 10
WITHDRAW = 4 * CHECK_INTERVAL  # readiness_withdraw: /readyz says 503 this long before the drain


# -- the hosts ------------------------------------------------------------------------------------
class Host:
    """One prefork daemon in its namespace: bound to the host's address, PROXY protocol on
    from the balancer only, metrics (and readiness) on its own port."""

    def __init__(self, bed, index, tmp):
        self.bed = bed
        self.index = index
        self.ns, self.address = bed.hosts[index]
        self.tmp = tmp
        self.config = os.path.join(tmp, f"host{index}.toml")
        self.proc = None
        self.starts = 0

    def write_config(self, name):
        with open(self.config, "w") as fh:
            fh.write(f'proc_name = "{name}"\n')

    def start(self, version):
        self.starts += 1
        self.write_config(f"fleet{self.index}-a")
        self.log_path = os.path.join(self.tmp, f"host{self.index}-{self.starts}.log")
        cmd = [sys.executable, "-m", "prefork", f"apps.fleet:{version}", "--config", self.config,
               "--workers", "2", "--bind", f"{self.address}:{APP_PORT}",
               "--metrics-bind", f"{self.address}:{METRICS_PORT}",
               "--proxy-protocol", "--proxy-allow-ips", netns.BALANCER,
               "--access-log", "", "--graceful-timeout", str(GRACE), "--keep-alive-timeout", "2",
               "--readiness-withdraw", str(WITHDRAW)]
        with open(self.log_path, "wb") as log:
            self.proc = self.bed.popen(self.ns, cmd, stdout=log, stderr=subprocess.STDOUT, env=python_env(),
                                       cwd=self.tmp)
        self.version = version

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def get(self, path):
        return netns.http_get(self.ns, (self.address, METRICS_PORT), path)

    def wait_serving(self, timeout=30):
        wait_until(lambda: self.get("/readyz")[0] == 200, timeout, interval=0.05,
                   what=f"host {self.index} ready:\n{self.log()}")

    def workers(self):
        return [p for p in children(self.proc.pid) if "worker" in (cmdline(p) or "")]

    def wait_exit(self):
        self.proc.wait(WITHDRAW + GRACE + 20)
        assert self.proc.returncode == 0, self.log()

    def requests_total(self):
        status, body = self.get("/metrics")
        assert status == 200, body
        return sum(float(v) for v in re.findall(rb"^prefork_requests_total\{[^}]*\} (\S+)$", body, re.M))


# -- the load --------------------------------------------------------------------------------------------
class Traffic:
    """Keep-alive client threads through the balancer. A failure is an error or any answer
    but a 200. A GET that finds its reused connection closed before a byte of answer may
    be sent again, as browsers and HTTP libraries do; those are counted apart (a POST
    that meets the same is a failure)."""

    def __init__(self, port, threads=THREADS, max_seconds=90, path=""):
        self.port = port
        self.path = path
        self.answers = []  # (sent at, method, version, host)
        self.failures = []
        self.retried = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def run(self, index):
        sock, reused, n = None, False, 0
        while not self.stop_event.is_set() and time.monotonic() < self.deadline:
            method = "POST" if index % 2 and n % 2 else "GET"
            n += 1
            body = b"x" * (100 + n % 400) if method == "POST" else b""
            request = (f"{method} {self.path}/{index}/{n} HTTP/1.1\r\nHost: www\r\nContent-Length: {len(body)}\r\n\r\n"
                       .encode() + body)
            sent = time.monotonic()
            got = 0
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=20)
                    reused = False
                sock.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError(f"closed after {len(data)} bytes")
                    got += len(chunk)
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"\r\ncontent-length: *(\d+)", head, re.I).group(1))
                while len(rest) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed inside a body")
                    rest += chunk
                status = head.split(b" ", 2)[1]
                if status != b"200":
                    raise ConnectionError(f"{method}: {head.splitlines()[0]!r} {rest[:200]!r}")
                version, host = re.match(rb"(v\d) host=(\S+)", rest).groups()
                if method == "POST":
                    assert f"bytes={len(body)}".encode() in rest, rest
                with self.lock:
                    self.answers.append((sent, method, version.decode(), host.decode()))
                if b"connection: close" in head.lower():
                    sock.close()
                    sock = None
                else:
                    reused = True
            except (OSError, AttributeError, AssertionError) as exc:
                if sock is not None:
                    sock.close()
                sock = None
                with self.lock:
                    if reused and got == 0 and method == "GET" and "closed after 0" in str(exc):
                        self.retried += 1
                    else:
                        self.failures.append((time.monotonic(), method, f"{type(exc).__name__}: {exc}"))
            self.stop_event.wait(0.003)  # a little room for the rest of the machine
        if sock is not None:
            sock.close()

    def count(self):
        with self.lock:
            return len(self.answers)

    def wait_more(self, n, timeout=30):
        start = self.count()
        wait_until(lambda: self.count() >= start + n, timeout, what=f"{n} more answers")

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)
        return self

    def summary(self, name):
        return (f"{name}: {len(self.answers)} requests, {len(self.failures)} failed, "
                f"{self.retried} resent by the client")


def report(capsys, *lines):
    """Each scenario's figures, on the terminal even when pytest captures output."""
    with capsys.disabled():
        print("\n" + "\n".join(lines))


# -- the bed -----------------------------------------------------------------------------------------------
class Fleet:
    def __init__(self, tmp):
        self.tmp = tmp
        self.bed = netns.Bed(3)
        self.hosts = [Host(self.bed, i, tmp) for i in range(3)]
        self.lb = None
        self.prometheus = None

    def start(self, haproxy_path):
        for host in self.hosts:
            host.start("v1")
        for host in self.hosts:
            host.wait_serving()
        front = socket.socket()
        front.bind(("127.0.0.1", 0))
        front.listen(256)
        self.port = front.getsockname()[1]
        self.lb = haproxy.HAProxy(haproxy_path, self.tmp, self.haproxy_config(front.fileno()),
                                  pass_fds=[front.fileno()], netns=self.bed.balancer)
        front.close()
        for host in self.hosts:
            self.wait_state(host, "UP")

    def haproxy_config(self, fd):
        with open(HAPROXY_CFG) as fh:
            lines = fh.read().splitlines()
        out = []
        servers_done = False
        for line in lines:
            if line.endswith("# test: stats socket"):
                line = "    stats socket @STATS@ mode 600 level admin"
            elif line.endswith("# test: frontend"):
                line = f"    bind fd@{fd}"
            elif line.endswith("# test: server"):
                if servers_done:
                    continue
                servers_done = True
                out.extend(f"    server host{h.index} {h.address}:{APP_PORT}" for h in self.hosts)
                continue
            out.append(line)
        return "\n".join(out) + "\n"

    def state(self, host):
        return self.lb.stats()[("prefork", f"host{host.index}")]["status"]

    def wait_state(self, host, prefix, timeout=30):
        return wait_until(lambda: self.state(host).startswith(prefix), timeout, interval=0.02,
                          what=f"host{host.index} {prefix} in haproxy (now {self.state(host)})")

    def cleanup(self):
        if self.prometheus is not None:
            netns.kill_tree(self.prometheus.pid)
        if self.lb is not None:
            self.lb.stop()
        self.bed.cleanup()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    why = netns.unavailable()
    if why:
        pytest.skip(why)
    path, why = haproxy.binary()
    if path is None:
        pytest.skip(why)
    tmp = str(tmp_path_factory.mktemp("fleet"))
    fleet = Fleet(tmp)
    try:
        fleet.start(path)
        yield fleet
    finally:
        fleet.cleanup()
        assert not any(alive(p.pid) for p in fleet.bed.processes)
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert fleet.bed.tag not in listed


# -- 1. rolling deploy ---------------------------------------------------------------------------------------
def test_rolling_deploy_host_by_host_fails_no_request_and_ends_on_the_new_version(fleet, capsys):
    traffic = Traffic(fleet.port)
    try:
        traffic.wait_more(50)
        for host in fleet.hosts:
            host.proc.send_signal(signal.SIGTERM)  # /readyz turns 503; accepting WITHDRAW s more
            fleet.wait_state(host, "DOWN")  # HAProxy has seen it ...
            assert host.proc.poll() is None  # ... before the host stopped accepting
            host.wait_exit()
            host.start("v2")
            host.wait_serving()
            fleet.wait_state(host, "UP")
            traffic.wait_more(30)
        deployed = time.monotonic()
        traffic.wait_more(100)
    finally:
        traffic.stop()
    report(capsys, traffic.summary("rolling deploy"))
    assert traffic.failures == [] and traffic.retried == 0
    after = [a for a in traffic.answers if a[0] > deployed]
    assert after and all(version == "v2" for _, _, version, _ in after)
    assert {host for _, _, _, host in after} == {h.address for h in fleet.hosts}
    assert {method for _, method, _, _ in after} == {"GET", "POST"}


# -- 2. rolling HUP ------------------------------------------------------------------------------------------
def test_rolling_hup_with_a_config_change_fails_no_request(fleet, capsys):
    traffic = Traffic(fleet.port)
    try:
        traffic.wait_more(50)
        for host in fleet.hosts:
            old = set(host.workers())
            host.write_config(f"fleet{host.index}-b")
            host.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: (lambda w: len(w) == 2 and not set(w) & old and
                                all(f"fleet{host.index}-b" in (cmdline(p) or "") for p in w))(host.workers()),
                       WITHDRAW + GRACE + 20, what=f"host {host.index} reloaded:\n{host.log()}")
            # readiness is withdrawn while the old generation drains: back in rotation
            # before the next host reloads
            fleet.wait_state(host, "UP")
            traffic.wait_more(30)
        traffic.wait_more(50)
    finally:
        traffic.stop()
    report(capsys, traffic.summary("rolling HUP"))
    assert traffic.failures == [] and traffic.retried == 0


# -- 3. kill -9 of a whole host -----------------------------------------------------------------------------
def test_kill_9_of_a_host_is_marked_down_within_the_check_interval_and_rejoins(fleet, capsys):
    victim = fleet.hosts[1]
    traffic = Traffic(fleet.port, path="/slow")  # 30 ms each: some are in flight at the kill
    try:
        traffic.wait_more(30)
        retries_before = haproxy_retries(fleet)
        killed_at = time.monotonic()
        netns.kill_tree(victim.proc.pid)
        fleet.wait_state(victim, "DOWN")
        down_after = time.monotonic() - killed_at
        victim.proc.wait(10)
        traffic.wait_more(30)
        retried = haproxy_retries(fleet) - retries_before
        version = victim.version
        victim.start(version)
        victim.wait_serving()
        fleet.wait_state(victim, "UP")
        rejoined = time.monotonic()
        wait_until(lambda: any(a[0] > rejoined and a[3] == victim.address for a in list(traffic.answers)), 30,
                   what="answers from the restarted host")
    finally:
        traffic.stop()
    report(capsys, traffic.summary("kill -9"),
           f"kill -9: marked down {down_after:.2f} s after the kill; requests caught on the host: "
           f"{retried} sent again by HAProxy (retries, redispatches), {len(traffic.failures)} failed "
           f"(bound: {THREADS // 2} POST threads with one request in flight each): {traffic.failures}")
    # fall 2 checks, the second at fastinter: about 0.75 s, generous for a loaded machine
    assert down_after < 4 * CHECK_INTERVAL + 2.0
    assert len(traffic.failures) <= THREADS // 2
    assert all(method == "POST" for _, method, _ in traffic.failures)
    assert all(t < killed_at + down_after + 1.0 for t, _, _ in traffic.failures)


def haproxy_retries(fleet):
    stats = fleet.lb.stats()
    return sum(int(row["wretr"] or 0) + int(row["wredis"] or 0) for (px, sv), row in stats.items()
               if px == "prefork" and sv.startswith("host"))


# -- 4. one Prometheus for every host ---------------------------------------------------------------------
def start_prometheus(fleet, binary):
    tmp = fleet.tmp
    config = os.path.join(tmp, "prometheus.yml")
    targets = ", ".join(f"'{h.address}:{METRICS_PORT}'" for h in fleet.hosts)
    with open(config, "w") as fh:
        fh.write("global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n"
                 f"  - job_name: prefork\n    static_configs:\n      - targets: [{targets}]\n")
    log_path = os.path.join(tmp, "prometheus.log")
    with open(log_path, "wb") as log:
        proc = fleet.bed.popen(fleet.bed.balancer, [
            binary, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(tmp, 'prometheus-data')}",
            f"--web.listen-address={netns.BALANCER}:{PROMETHEUS_PORT}"], stdout=log, stderr=subprocess.STDOUT,
            cwd=tmp)
    fleet.prometheus = proc

    def ready():
        assert proc.poll() is None, open(log_path).read()
        return "Server is ready to receive web requests" in open(log_path, errors="replace").read()
    wait_until(ready, 30, interval=0.1, what="prometheus ready")
    return proc


def query(fleet, expr):
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = netns.http_get(fleet.bed.balancer, (netns.BALANCER, PROMETHEUS_PORT), path)
    assert status == 200, body
    return json.loads(body)["data"]["result"]


def haproxy_requests(fleet):
    stats = fleet.lb.stats()
    return sum(int(stats[("prefork", f"host{h.index}")][f"hrsp_{c}"] or 0)
               for h in fleet.hosts for c in ("1xx", "2xx", "3xx", "4xx", "5xx", "other"))


def settled_total(fleet):
    """The hosts' summed prefork_requests_total once Prometheus agrees with the hosts and
    the sum holds still across a worker heartbeat (workers ship counts about once a second)."""
    last = []

    def settled():
        direct = sum(h.requests_total() for h in fleet.hosts)
        result = query(fleet, "sum(prefork_requests_total)")
        seen = float(result[0]["value"][1]) if result else 0.0
        steady = seen == direct and bool(last) and last[-1] == direct
        last.append(direct if seen == direct else None)
        return (direct,) if steady else None
    return wait_until(settled, 30, interval=1.2, what="steady totals")[0]


def test_one_prometheus_sees_every_host_and_their_sum_is_what_haproxy_counted(fleet, capsys):
    path, why = debian.ensure("/usr/bin/prometheus", "prometheus")
    if path is None:
        pytest.skip(why)
    start_prometheus(fleet, path)
    wait_until(lambda: len([r for r in query(fleet, "up == 1")]) == 3, 30, interval=0.1,
               what="three hosts up in Prometheus")
    before = settled_total(fleet)
    before_lb = haproxy_requests(fleet)
    traffic = Traffic(fleet.port)
    try:
        traffic.wait_more(300)
    finally:
        traffic.stop()
    assert traffic.failures == []
    after_lb = haproxy_requests(fleet)
    counted = settled_total(fleet) - before
    instances = {r["metric"]["instance"] for r in query(fleet, "prefork_requests_total")}
    report(capsys, traffic.summary("prometheus"),
           f"prometheus: {len(traffic.answers)} answers; HAProxy counted {after_lb - before_lb}, "
           f"Prometheus's sum over {len(instances)} hosts moved by {counted:.0f}")
    assert instances == {f"{h.address}:{METRICS_PORT}" for h in fleet.hosts}
    assert counted == after_lb - before_lb == len(traffic.answers)
