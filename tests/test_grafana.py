"""docs/grafana/prefork.json: a well-formed Grafana dashboard whose every query returns data
from a real Prometheus (Debian's ``prometheus``, run by the test on loopback; see
test_prometheus.py) that scraped a real daemon through a bounded load with client errors,
dropped requests, a worker crash and a reload."""

import json
import math
import os
import re
import signal
import socket
import threading
import time

from daemon import ROOT, wait_until
from test_prometheus import Prometheus, prometheus_binary  # noqa: F401 (a fixture)

DASHBOARD = os.path.join(ROOT, "docs", "grafana", "prefork.json")
# what Grafana puts in place of its variables: the job under test, every instance, and
# the intervals a 250 ms scrape makes reasonable ($__rate_interval is at least 4 scrapes)
SUBSTITUTE = {"$__rate_interval": "30s", "$__interval": "5s", "$__range": "5m", "$job": "prefork",
              "$instance": ".+"}
REQUIRED = ["Request rate by code", "Latency quantiles", "Active connections", "Dropped requests",
            "Client errors by code", "Worker restarts by reason", "Resident memory per worker",
            "CPU per worker", "Reloads and workers"]


def load_dashboard():
    with open(DASHBOARD) as fh:
        return json.load(fh)


def queries(dashboard):
    """(where, expr) for every panel target and annotation query."""
    found = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            found.append((f"annotation {annotation['name']!r}", annotation["expr"]))
    return found


def substitute(expr):
    for name in sorted(SUBSTITUTE, key=len, reverse=True):
        expr = expr.replace(name, SUBSTITUTE[name])
    assert "$" not in expr, expr
    return expr


def test_dashboard_is_well_formed_grafana_json():
    dashboard = load_dashboard()
    assert dashboard["uid"] == "prefork" and dashboard["title"] == "prefork"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in dashboard["panels"]]
    for title in REQUIRED:
        assert title in titles, title
    for panel in dashboard["panels"]:
        assert panel["type"] in ("timeseries", "stat"), panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    used = {name for _, expr in queries(dashboard) for name in re.findall(r"\$\w+", expr)}
    assert used <= set(SUBSTITUTE) and {"$job", "$instance", "$__rate_interval"} <= used, used
    assert {"$" + name for name in variables} >= {n for n in used if not n.startswith("$__")}


def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk


def load(port, stop, counts, seconds=90):
    """Until ``stop`` (or for ``seconds`` at most): pipelined keep-alive pairs (the second is over max_requests_per_socket
    and dropped with a 503), a request without Host (400) and garbage (a parse error)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            out = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            counts["dropped"] += b"HTTP/1.1 503" in out
            for _ in range(3):
                out = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                counts["ok"] += out.startswith(b"HTTP/1.1 200")
            counts["no_host"] += exchange(port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 400")
            counts["garbage"] += exchange(port, b"BREW / HTCPCP/1.0\r\n\r\n").startswith(b"HTTP/1.1 400")
        except OSError:  # the worker SIGKILLed by the test reset a connection: go on
            counts["errors"] += 1


def test_every_panel_query_returns_data_from_a_real_prometheus(prometheus_binary, daemons, tmp_path):  # noqa: F811
    dashboard = load_dashboard()
    d = daemons("--max-requests-per-socket", "1", workers=2)
    d.wait_ready()
    first = d.wait_workers(2)
    prom = Prometheus(prometheus_binary, str(tmp_path), {"prefork": d.metrics_port()})
    stop, counts = threading.Event(), {"ok": 0, "dropped": 0, "no_host": 0, "garbage": 0, "errors": 0}
    thread = threading.Thread(target=load, args=(d.port, stop, counts), daemon=True)
    try:
        wait_until(lambda: prom.query('up{job="prefork"} == 1'), 30, interval=0.1, what="the daemon scraped")
        thread.start()
        wait_until(lambda: counts["garbage"] >= 20, 30, what="some load")
        os.kill(first[0], signal.SIGKILL)  # a crash: the master replaces the worker
        d.wait_log(r"died \(signal SIGKILL\)")
        d.wait_workers(2, exclude=[first[0]], timeout=20)
        d.signal(signal.SIGHUP)  # a reload: a new generation
        d.wait_log(r"generation 2 ready", 30)
        wait_until(lambda: counts["garbage"] >= 40, 30, what="load after the reload")
        for expr in ('prefork_reloads_total{job="prefork"} == 1',
                     'prefork_worker_restarts_total{job="prefork", reason="crash"} >= 1',
                     'prefork_worker_restarts_total{job="prefork", reason="reload"} >= 2',
                     'prefork_client_errors_total{job="prefork"} > 0',
                     'prefork_dropped_requests_total{job="prefork"} > 0',
                     'prefork_requests_total{job="prefork", code="400"} > 0'):
            wait_until(lambda: prom.query(expr), 30, interval=0.2, what=f"Prometheus to have scraped {expr}")
        exposed = {name for name, _ in d.scrape()}
        for where, expr in queries(dashboard):  # every metric a panel names is one the master exports
            for metric in re.findall(r"\b(prefork_[a-z_]+)\b", expr):
                assert metric in exposed, (where, metric)
        # every query has data; those about the traffic show it moving (the load runs on,
        # and the master learns counts at each worker's heartbeat)
        moving = {"panel 'Request rate by code' A", "panel 'Client errors by code' A",
                  "panel 'Dropped requests' A", "panel 'Requests per second' A", "panel 'Latency quantiles' A"}
        results = {}

        def missing():
            lacking = []
            for where, expr in queries(dashboard):
                values = [value for _, value in prom.query(substitute(expr))]
                results[where] = values
                finite = [v for v in values if math.isfinite(v)]
                if not finite or (where in moving and not any(v > 0 for v in finite)):
                    lacking.append((where, substitute(expr), values))
            return lacking
        try:
            wait_until(lambda: not missing(), 60, interval=0.5, what="data for every query")
        except TimeoutError:
            raise AssertionError(f"queries without data: {missing()}") from None
    finally:
        stop.set()
        thread.join(30)
        prom.stop()
    assert counts["dropped"] and counts["no_host"] and counts["ok"]
    # the panels show what happened
    assert max(results["panel 'Reloads in range' A"]) >= 1
    assert max(results["panel 'Worker restarts in range' A"]) >= 3  # one crash, two old workers reloaded
    assert len(results["panel 'Request rate by code' A"]) >= 3  # 200, 400 and 503
    assert len(results["panel 'Resident memory per worker' A"]) == 2 and min(results["panel 'Resident memory per worker' A"]) > 1e6
