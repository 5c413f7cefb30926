"""Metrics: plain-integer counters in each worker, totals and exposition in the master.

Rules:
- A worker counts in ints and dicts of ints (no locks, no files) and sends its
  cumulative snapshot with every heartbeat (and once more as it exits).
- The master keeps the latest snapshot of each live worker; when a worker is gone its
  last snapshot is folded into the totals of the dead, so counters never go backwards.
- Exposition uses prometheus_client's collector and text format on a registry of our
  own (no multiprocess mode, no per-PID files).
"""

import bisect
import os
import time

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
RESTART_REASONS = ("exit", "crash", "timeout", "recycle", "reload")


class WorkerMetrics:
    """Worker side: fed by the server's response observer and its own counters."""

    def __init__(self, server):
        self.server = server
        self.requests = {}  # (method, code) -> count
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.duration_sum = [0.0]

    def observer(self, then=None):
        """The per-response function (the hot path): a dict increment and a bisect.
        ``then(req, res, duration)`` runs after it when given."""
        requests = self.requests
        buckets = self.buckets
        duration_sum = self.duration_sum
        bisect_left = bisect.bisect_left
        bounds = BUCKETS
        monotonic = time.monotonic

        def observe(req, res):
            duration = monotonic() - req.start_time
            key = (req.method, res.status_code)
            requests[key] = requests.get(key, 0) + 1
            buckets[bisect_left(bounds, duration)] += 1
            duration_sum[0] += duration
            if then is not None:
                then(req, res, duration)
        return observe

    def snapshot(self):
        stats = self.server.stats
        return {
            "requests": {f"{m} {c}": n for (m, c), n in self.requests.items()},
            "buckets": self.buckets, "duration_sum": self.duration_sum[0],
            "connections_total": stats.connections_total, "connections": self.server.connections,
            "dropped": stats.dropped_requests, "client_errors": stats.client_errors,
        }


def _add(total, snapshot):
    for key in ("connections_total", "dropped", "duration_sum"):
        total[key] = total.get(key, 0) + snapshot.get(key, 0)
    for key in ("requests", "client_errors"):
        bucket = total.setdefault(key, {})
        for name, count in snapshot.get(key, {}).items():
            bucket[name] = bucket.get(name, 0) + count
    buckets = total.setdefault("buckets", [0] * (len(BUCKETS) + 1))
    for i, count in enumerate(snapshot.get("buckets", ())):
        buckets[i] += count


class Aggregator:
    """Master side: live snapshots plus the folded totals of workers that are gone."""

    def __init__(self):
        self.dead = {}

    def fold(self, snapshot):
        if snapshot:
            _add(self.dead, snapshot)

    def totals(self, live_snapshots):
        total = {}
        _add(total, self.dead)
        for snapshot in live_snapshots:
            _add(total, snapshot)
        total["connections"] = sum(s.get("connections", 0) for s in live_snapshots)
        return total


def _proc_stats(pid):
    """(resident bytes, cpu seconds) of ``pid`` from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as fh:
            resident_pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return resident_pages * os.sysconf("SC_PAGE_SIZE"), cpu


class MasterCollector:
    """prometheus_client collector over the master's state."""

    def __init__(self, master):
        self.master = master

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        master = self.master
        workers = list(master.workers.values())
        totals = master.aggregator.totals([w.stats for w in workers if w.stats])
        yield CounterMetricFamily("prefork_connections", "TCP connections accepted by the workers.",
                                  value=totals.get("connections_total", 0))
        yield GaugeMetricFamily("prefork_connections_active", "Connections open in the workers now.",
                                value=totals.get("connections", 0))
        requests = CounterMetricFamily("prefork_requests", "Responses sent for parsed requests, the automatic "
                                       "ones included.", labels=["method", "code"])
        for key, count in sorted(totals.get("requests", {}).items()):
            method, code = key.split(" ")
            requests.add_metric([method, code], count)
        yield requests
        buckets = totals.get("buckets", [0] * (len(BUCKETS) + 1))
        cumulative, running = [], 0
        for bound, count in zip(BUCKETS + (float("inf"),), buckets):
            running += count
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
        yield HistogramMetricFamily("prefork_request_duration_seconds", "From the parsed request head to the "
                                    "last byte of the response handed to the kernel.", buckets=cumulative,
                                    sum_value=totals.get("duration_sum", 0.0))
        yield CounterMetricFamily("prefork_dropped_requests", "Requests over max_requests_per_socket "
                                  "(the dropRequest event; answered 503).", value=totals.get("dropped", 0))
        errors = CounterMetricFamily("prefork_client_errors", "Client errors (parse errors, request "
                                     "timeouts, resets) by code.", labels=["code"])
        for code, count in sorted(totals.get("client_errors", {}).items()):
            errors.add_metric([code], count)
        yield errors
        yield GaugeMetricFamily("prefork_workers", "Worker processes alive.", value=len(workers))
        restarts = CounterMetricFamily("prefork_worker_restarts", "Workers replaced, by reason.",
                                       labels=["reason"])
        for reason in RESTART_REASONS:
            restarts.add_metric([reason], master.restarts.get(reason, 0))
        yield restarts
        yield CounterMetricFamily("prefork_reloads", "Reloads (HUP) that started a new generation.",
                                  value=master.reloads)
        age = GaugeMetricFamily("prefork_worker_heartbeat_age_seconds", "Seconds since each serving worker's "
                                "last heartbeat.", labels=["slot"])
        rss = GaugeMetricFamily("prefork_worker_resident_memory_bytes", "Resident memory of each serving "
                                "worker.", labels=["slot"])
        cpu = CounterMetricFamily("prefork_worker_cpu_seconds", "CPU time of each serving worker (user + "
                                  "system); starts again when the slot's worker is replaced.", labels=["slot"])
        now = master.clock()
        for slot, worker in sorted(master.serving_by_slot().items()):
            label = [str(slot)]
            age.add_metric(label, max(0.0, now - worker.last_beat))
            proc = _proc_stats(worker.pid)
            if proc is not None:
                rss.add_metric(label, proc[0])
                cpu.add_metric(label, proc[1])
        yield age
        yield rss
        yield cpu


def make_registry(master):
    from prometheus_client import CollectorRegistry, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(MasterCollector(master))
    ProcessCollector(registry=registry)
    return registry


def render(registry):
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry), CONTENT_TYPE_LATEST
