"""The master's /metrics as a Prometheus server reads it, through the daemon's churn:
``promtool check metrics`` (Debian's prometheus package) finds no error and no lint
problem, every family has its HELP and TYPE, histogram buckets are cumulative with
``+Inf`` equal to ``_count``, counters never go backwards across a SIGKILL, a
``max_requests`` recycle, TTIN/TTOU and a reload, and no client can make label values
without bound. Real daemon and signals; every process is killed by PID at the end."""

import os
import random
import signal
import socket
import subprocess

import pytest

import debian
from daemon import wait_until
from harness import read_until_close

# counters that may start again (none: a slot's CPU counter keeps its replaced workers' time)
RESETTING = set()


@pytest.fixture(scope="module")
def promtool():
    path, why = debian.ensure("promtool", "prometheus")
    if path is None:
        pytest.skip(why)
    return path


def exchange(port, data):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(data)
        return read_until_close(sock)
    finally:
        sock.close()


def scrape_text(port):
    head, _, body = exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").partition(
        b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"text/plain; version=0.0.4" in head, head
    return body.decode()


def parse(text):
    """({(name, labels): value}, {family: kind}) of an exposition text, checking each
    family's HELP and TYPE come before its samples."""
    from prometheus_client.parser import text_string_to_metric_families

    samples, kinds = {}, {}
    lines = text.splitlines()
    helped = {line.split()[2] for line in lines if line.startswith("# HELP ")}
    typed = {line.split()[2]: line.split()[3] for line in lines if line.startswith("# TYPE ")}
    for family in text_string_to_metric_families(text):
        kinds[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    for name, kind in typed.items():
        assert name in helped, f"{name} has a TYPE but no HELP"
        assert kind in ("counter", "gauge", "histogram"), (name, kind)
    return samples, typed


def check(promtool, text):
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), \
        result.stdout + result.stderr
    samples, typed = parse(text)
    for name, kind in typed.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float(dict(labels)["le"]), value) for (sample, labels), value in samples.items()
                          if sample == name + "_bucket"))
        assert buckets and buckets[-1][0] == float("inf"), buckets
        counts = [value for _, value in buckets]
        assert counts == sorted(counts), f"{name} buckets not cumulative: {buckets}"
        assert buckets[-1][1] == samples[(name + "_count", ())], (buckets, samples[(name + "_count", ())])
    return samples, typed


def assert_no_counter_went_back(before, after, typed, what):
    counters = {name for name, kind in typed.items() if kind in ("counter", "histogram")} - RESETTING
    for (name, labels), value in before.items():
        family = next((c for c in counters if name == c or name.startswith(c + "_")), None)
        if family is None or name.endswith("_created"):
            continue
        assert (name, labels) in after, f"{what}: {name}{dict(labels)} is gone"
        assert after[(name, labels)] >= value, f"{what}: {name}{dict(labels)} went from {value} to " \
                                               f"{after[(name, labels)]}"


def test_metrics_pass_promtool_and_counters_hold_through_churn(daemons, promtool):
    d = daemons("--max-requests", "20", workers=2)
    d.wait_ready()
    port = d.metrics_port()
    rng = random.Random(7)

    def traffic():
        for _ in range(30):
            exchange(d.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        # methods the parser knows, and made-up ones (a parse error each), and junk
        for method in ("HEAD", "POST", "DELETE", "PROPFIND", "M-SEARCH"):
            exchange(d.port, f"{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                     .encode())
        for _ in range(20):
            name = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ\"\\{}") for _ in range(rng.randint(1, 12)))
            exchange(d.port, f"{name} /\"\\\n HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        exchange(d.port, bytes(rng.randrange(256) for _ in range(200)))

    def settled():
        traffic()
        wait_until(lambda: len(d.serving_workers()) == d_workers[0], 15, what=f"{d_workers[0]} workers")
        return check(promtool, scrape_text(port))

    d_workers = [2]
    before, typed = settled()
    steps = [
        ("SIGKILL of a worker", lambda: os.kill(d.serving_workers()[0], signal.SIGKILL)),
        ("max_requests recycling", lambda: d.wait_log(r"reached max_requests")),
        ("TTIN", lambda: (d.signal(signal.SIGTTIN), d_workers.__setitem__(0, 3))),
        ("TTOU", lambda: (d.signal(signal.SIGTTOU), d_workers.__setitem__(0, 2))),
        ("HUP reload", lambda: (d.signal(signal.SIGHUP), d.wait_log(r"generation 2 ready", timeout=20))),
    ]
    for what, action in steps:
        action()
        after, typed = settled()
        assert_no_counter_went_back(before, after, typed, what)
        before = after
    # whatever the clients sent, the label values are the parser's methods and codes
    requests = [dict(labels) for name, labels in before if name == "prefork_requests_total"]
    assert {r["method"] for r in requests} <= {"GET", "HEAD", "POST", "DELETE", "PROPFIND", "M-SEARCH"}, requests
    assert all(r["code"].isdigit() and len(r["code"]) == 3 for r in requests), requests
    errors = [dict(labels)["code"] for name, labels in before if name == "prefork_client_errors_total"]
    assert 0 < len(errors) <= 10 and all(code.replace("_", "").isalnum() for code in errors), errors
