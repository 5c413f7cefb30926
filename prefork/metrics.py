"""Metrics: plain-integer counters in each worker, totals and exposition in the master.

Rules:
- A worker counts in ints and dicts of ints (no locks, no files) and sends its
  cumulative snapshot with every heartbeat (and once more as it exits).
- Per response (the hot path) a worker does integer increments and one float addition,
  inline in its response observer: a dict keyed by the method string holds plain dicts
  keyed by the status int (no tuple, no string built; the first response of a pair is
  counted off the hot path, and so is every response whose method is none the parser
  reads, counted as ``other``: an app may set ``req.method`` to any text); the
  histogram bucket is found by comparing with the first two bounds, then one
  ``bisect``. With the access log on, the response is counted with its line, when the
  log makes the lines of what it holds (``TALLY``, in the log's ``render``: at its
  flush, and before anything reads the counts, ``settle``);
  the duration is then at hand in whole µs: under ``TABLE`` µs it is counted in a list
  indexed by those µs, and the buckets and sum are made from that list once per
  heartbeat (what it counted since the last heartbeat, added to the totals),
  counting m µs <= d < m + 1 µs as m + 0.5 µs; a longer one is kept in a
  list (``slow``), with the durations of the answers ``count`` sees meanwhile, and
  counted from it in its exact bucket, its seconds added to the sum in the order
  they came (the same float as adding each at once), when the counts are read
  (``histogram``) or the list is long (``SLOW_KEPT``).
- An answer written raw on a socket the server handed over (an adapter's 400 to a
  CONNECT, a WebSocket handshake's) is no response the observer sees: the server's
  ``reply_observer`` counts it (``reply_observer``, ``WorkerMetrics.count``), by method
  and code, and in the histogram unless it is a handshake's (seen at the session's
  close: its duration is no response time). The server's canned replies to parse
  errors and timeouts are client errors, not responses.
- The histogram's bucket bounds are the ``metrics_buckets`` setting, which needs a
  restart to change, so the master and every worker use the same bounds.
- The master keeps the latest snapshot of each live worker; when a worker is gone its
  last snapshot is folded into the totals of the dead, so counters never go backwards.
- The master writes the exposition text itself (exposition.py: prometheus_client's
  package would put its HTTP stack, ~5 MB, in the master and every worker forked
  from it); no multiprocess mode, no per-PID files.
"""

import bisect
import functools
import itertools
import operator
import os

from . import exposition
from .exposition import CONTENT_TYPE, Family, counter, gauge, process_families

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TABLE = 2_000  # with the access log on, durations under 2 ms are counted by the whole µs
SLOW_KEPT = 4096  # longer durations kept before they are counted
RESTART_REASONS = ("exit", "crash", "timeout", "recycle", "memory", "reload")
# The request methods the HTTP parser reads (llhttp's): the method label is one of them,
# or "other" for any text an app set ``req.method`` to (a method-override header's, say:
# a series per text would have no bound)
METHODS = frozenset("DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH "
                    "SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY "
                    "SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE QUERY".split())


class WorkerMetrics:
    """Worker side: the per-response counting (``RECORD``, compiled into the worker's
    response observer), plus the server's counters, as one snapshot."""

    def __init__(self, server, bounds=BUCKETS):
        self.server = server
        self.bounds = tuple(bounds)
        self.requests = {}  # method -> {status code -> count}
        self.buckets = [0] * (len(self.bounds) + 1)  # responses counted by their bucket
        self.duration_sum = [0.0]  # and their seconds
        self.by_micros = [0] * TABLE  # responses counted by their duration in whole µs
        self.slow = []  # durations of TABLE µs and more, in order, not yet counted
        # a duration of m µs (m <= d < m + 1) is counted as m + 0.5 µs
        self.bucket_of = [bisect.bisect_left(self.bounds, (m + 0.5) / 1e6) for m in range(TABLE)]
        self.indexes = list(range(TABLE))
        # what ``by_micros`` counted before the last pass over it (which zeroes it): the
        # responses by bucket, and their durations in half µs (2m + 1 each)
        self.table_buckets = [0] * len(self.buckets)
        self.half_micros = 0

    # The per-response counting as code, for a compiled observer: it reads ``req``,
    # ``res`` and ``duration`` (seconds), and the names of ``record_names()``. The
    # bucket is found by comparing with the first two bounds, else by ``bisect``.
    _COUNT = ("    try:\n"
              "        requests[req.method][res.status_code] += 1\n"
              "    except KeyError:\n"
              "        count_first(requests, req.method, res.status_code)\n")
    RECORD = (_COUNT +
              "    buckets[0 if duration <= first else 1 if duration <= second else"
              " bisect_left(bounds, duration)] += 1\n"
              "    duration_sum[0] += duration\n")

    # The same when ``micros`` (whole µs of the duration) is at hand, as the access log
    # has it: one increment in ``by_micros`` for a duration under TABLE µs.
    RECORD_MICROS = (_COUNT +
                     "    if micros < table:\n"
                     "        by_micros[micros] += 1\n"
                     "    else:\n"
                     "        buckets[bisect_left(bounds, duration)] += 1\n"
                     "        duration_sum[0] += duration\n")

    # The same for a response held by the access log and counted when its line is made
    # (logformat.compile_held's ``render``), from the held values: ``log_method``,
    # ``log_status``, ``micros`` and ``duration``. Anything that reads the counts
    # first has the held responses counted (``settle``).
    TALLY = ("try:\n"
             "    requests[log_method][log_status] += 1\n"
             "except KeyError:\n"
             "    count_first(requests, log_method, log_status)\n"
             "if micros < table:\n"
             "    by_micros[micros] += 1\n"
             "else:\n"
             "    slow_durations.append(duration)\n")
    # Once per batch of TALLY: the long durations counted when there are many.
    TALLY_BATCH = ("if len(slow_durations) >= slow_kept:\n"
                   "    count_slow()\n")
    settle = None  # a callable that counts what is held (an access log's), or None

    def record_names(self):
        padded = self.bounds + (float("inf"), float("inf"))
        return {"requests": self.requests, "buckets": self.buckets, "duration_sum": self.duration_sum,
                "bounds": self.bounds, "bisect_left": bisect.bisect_left, "first": padded[0],
                "second": padded[1], "by_micros": self.by_micros, "table": TABLE, "count_first": count_first,
                "slow_durations": self.slow, "slow_kept": SLOW_KEPT, "count_slow": self.count_slow}

    def count(self, method, code, duration, timed=True):
        """A response the observer does not see (see ``reply_observer``): counted by
        method and code, and in the histogram when ``timed``."""
        count_first(self.requests, method, code)
        if timed:
            if self.settle is not None:  # (TALLY counts: the sum's additions in their order)
                self.slow.append(duration)
                return
            self.buckets[bisect.bisect_left(self.bounds, duration)] += 1
            self.duration_sum[0] += duration

    def count_slow(self):
        """Count the durations in ``slow``: each in its bucket (by the bounds, over the
        sorted durations), and added to the sum one after the other, in their order."""
        slow = self.slow
        if not slow:
            return
        self.duration_sum[0] = functools.reduce(operator.add, slow, self.duration_sum[0])
        slow.sort()
        buckets, below = self.buckets, 0
        for index, bound in enumerate(self.bounds):  # bucket i: bounds[i - 1] < d <= bounds[i]
            upto = bisect.bisect_right(slow, bound, below)
            buckets[index] += upto - below
            below = upto
        buckets[-1] += len(slow) - below
        slow.clear()

    def histogram(self):
        """(count per bucket, sum of seconds): once per heartbeat, a pass over the
        durations counted in ``by_micros`` since the last one (the µs not seen are
        skipped in C)."""
        if self.settle is not None:
            self.settle()
        self.count_slow()
        by_micros, bucket_of = self.by_micros, self.bucket_of
        half, seen = self.half_micros, self.table_buckets
        for m in itertools.compress(self.indexes, by_micros):  # (those counted since the last pass)
            count = by_micros[m]
            by_micros[m] = 0
            seen[bucket_of[m]] += count
            half += (2 * m + 1) * count
        self.half_micros = half
        # (an int: the same float as adding each µs count's seconds in order did, as
        # that sum of half µs stays exact below 2**53)
        return [a + b for a, b in zip(self.buckets, seen)], self.duration_sum[0] + half / 2 / 1e6

    def snapshot(self):
        stats = self.server.stats
        buckets, duration_sum = self.histogram()  # (held responses counted first)
        return {
            "requests": {f"{m} {c}": n for m, by_code in self.requests.items() for c, n in by_code.items()},
            "buckets": buckets, "duration_sum": duration_sum,
            "connections_total": stats.connections_total, "connections": self.server.open_connections,
            "dropped": stats.dropped_requests, "client_errors": stats.client_errors,
            "tls_handshake_failures": stats.tls_handshake_failures,
            "proxy_errors": stats.proxy_errors,
        }


def count_first(requests, method, code):
    """The first response of a method and status code (off the hot path); the code is
    kept as its int (an app may set ``201.0``, sent as 201: the same key then), the
    method as ``other`` when it is none the parser reads (``METHODS``: such a method
    is counted here each time, its own key never made)."""
    try:
        code = int(code)
    except (TypeError, ValueError, OverflowError):
        pass  # (one an app set after the head went out: counted as it is)
    if method not in METHODS:
        method = "other"
    by_code = requests.setdefault(method, {})
    by_code[code] = by_code.get(code, 0) + 1


def _add(total, snapshot):
    for key in ("connections_total", "dropped"):
        total[key] = total.get(key, 0) + snapshot.get(key, 0)
    # seconds added as whole nanoseconds: an exact sum, whatever the order (floats added
    # in another order after a worker's exit could come out one rounding step lower, and
    # a counter that goes down is a reset to Prometheus); "duration_sum" follows it
    nanos = snapshot.get("duration_nanos")
    if nanos is None:
        nanos = round(snapshot.get("duration_sum", 0.0) * 1e9)
    nanos += total.get("duration_nanos", 0)
    total["duration_nanos"] = nanos
    total["duration_sum"] = nanos / 1e9
    for key in ("requests", "client_errors", "tls_handshake_failures", "proxy_errors"):
        bucket = total.setdefault(key, {})
        for name, count in snapshot.get(key, {}).items():
            bucket[name] = bucket.get(name, 0) + count
    counts = snapshot.get("buckets", ())
    buckets = total.setdefault("buckets", [])
    if len(buckets) < len(counts):
        buckets.extend([0] * (len(counts) - len(buckets)))
    for i, count in enumerate(counts):
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


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (the state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_seconds(fields):
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _proc_stats(pid):
    """(resident bytes, cpu seconds) of ``pid`` from /proc, or None: gone, or a zombie
    (it exited and is not reaped yet: its memory is gone, and so is its worker)."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    try:
        with open(f"/proc/{pid}/statm") as fh:
            resident_pages = int(fh.read().split()[1])
        cpu = _cpu_seconds(fields)
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE"), cpu


def slot_cpu_seconds(master):
    """{slot: CPU seconds} of every worker each slot has had: those reaped (their
    totals from ``wait4``) plus the live ones, draining, booting and exited-but-not-
    yet-reaped ones included; so a slot's count never goes backwards."""
    slots = dict(master.cpu_gone)
    for worker in master.workers.values():
        fields = _stat_fields(worker.pid)
        try:
            cpu = _cpu_seconds(fields) if fields is not None else 0.0
        except (IndexError, ValueError):
            cpu = 0.0
        slots[worker.slot] = slots.get(worker.slot, 0.0) + cpu
    return slots


proc_stats = _proc_stats  # the public name, for the master's status page


class MasterCollector:
    """The master's metric families (exposition.py writes them)."""

    def __init__(self, master):
        self.master = master

    def collect(self):
        master = self.master
        workers = list(master.workers.values())
        totals = master.aggregator.totals([w.stats for w in workers if w.stats])
        yield counter("prefork_connections", "TCP connections accepted by the workers.",
                      totals.get("connections_total", 0))
        yield gauge("prefork_connections_active", "Connections open in the workers now.",
                    totals.get("connections", 0))
        requests = counter("prefork_requests", "Responses sent for parsed requests, the automatic ones included.",
                           labels=["code", "method"])
        for key, count in sorted(totals.get("requests", {}).items()):
            method, _, code = key.partition(" ")  # (a method has no space: see count_first)
            requests.add([code, method], count)
        yield requests
        bounds = tuple(master.settings.metrics_buckets)
        buckets = totals.get("buckets") or [0] * (len(bounds) + 1)
        if len(buckets) != len(bounds) + 1:
            raise ValueError(f"workers counted {len(buckets)} histogram buckets for {len(bounds)} bounds")
        cumulative, running = [], 0
        for bound, count in zip(bounds + (float("inf"),), buckets):
            running += count
            cumulative.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        yield Family("prefork_request_duration_seconds", "histogram", "From the parsed request head to the "
                     "last byte of the response handed to the kernel.").histogram(
                         cumulative, totals.get("duration_sum", 0.0))
        yield counter("prefork_dropped_requests", "Requests over max_requests_per_socket "
                      "(the dropRequest event; answered 503).", totals.get("dropped", 0))
        errors = counter("prefork_client_errors", "Client errors (parse errors, request "
                         "timeouts, resets) by code.", labels=["code"])
        for code, count in sorted(totals.get("client_errors", {}).items()):
            errors.add([code], count)
        yield errors
        tls_failures = counter("prefork_tls_handshake_failures", "TLS handshakes that failed "
                               "(tlsClientError: bad ClientHello, no shared version or cipher, "
                               "client certificate refused, timeout, EOF), by code.", labels=["code"])
        for code, count in sorted(totals.get("tls_handshake_failures", {}).items()):
            tls_failures.add([code], count)
        yield tls_failures
        proxy_errors = counter("prefork_proxy_protocol_errors", "Connections on PROXY protocol "
                               "listeners closed without a valid header, by reason (invalid, "
                               "timeout, untrusted, closed).", labels=["reason"])
        for reason, count in sorted(totals.get("proxy_errors", {}).items()):
            proxy_errors.add([reason], count)
        yield proxy_errors
        # (the draining workers of the master a USR2 re-executed from count too: they serve still)
        yield gauge("prefork_workers", "Worker processes alive.", len(workers) + len(master.foreign))
        restarts = counter("prefork_worker_restarts", "Workers replaced, by reason.", labels=["reason"])
        for reason in RESTART_REASONS:
            restarts.add([reason], master.restarts.get(reason, 0))
        yield restarts
        yield counter("prefork_reloads", "Reloads (HUP) whose new generation took over.", master.reloads)
        yield counter("prefork_reload_failures", "Reloads that changed nothing: a bad "
                      "configuration, or a new worker that failed to boot.", master.reload_failures)
        age = gauge("prefork_worker_heartbeat_age_seconds", "Seconds since each serving worker's "
                    "last heartbeat.", labels=["slot"])
        rss = gauge("prefork_worker_resident_memory_bytes", "Resident memory of each serving "
                    "worker.", labels=["slot"])
        cpu = counter("prefork_worker_cpu_seconds", "CPU time (user + system) of the workers of each "
                      "slot, those replaced included.", labels=["slot"])
        now = master.clock()
        for slot, worker in sorted(master.serving_by_slot().items()):
            label = [str(slot)]
            age.add(label, max(0.0, now - worker.last_beat))
            proc = _proc_stats(worker.pid)
            if proc is not None:
                rss.add(label, proc[0])
        for slot, seconds in sorted(slot_cpu_seconds(master).items()):
            cpu.add([str(slot)], seconds)
        yield age
        yield rss
        yield cpu


def make_registry(master):
    """The collectors the master's /metrics renders: ``collect()`` of each gives families."""
    return [MasterCollector(master), _ProcessCollector(master)]


class _ProcessCollector:
    def __init__(self, master):
        self.master = master

    def collect(self):
        # the wall-clock time this master program started (read once, by the master: a
        # start time that moved would read as a restart), renewed by a USR2 re-exec
        return process_families(started=self.master.started_wall)


def render(registry, accept=None):
    """(body, content type) of /metrics: OpenMetrics when ``accept`` (the request's
    Accept header) asks for it, else the classic text format."""
    openmetrics = exposition.negotiate(accept)
    families = (family for collector in registry for family in collector.collect())
    return (exposition.render(families, openmetrics),
            exposition.OPENMETRICS_CONTENT_TYPE if openmetrics else CONTENT_TYPE)


def reply_observer(line=None, metrics=None):
    """The server's ``reply_observer``, ``observe(req, res, duration)``, for a reply the
    server made itself or an answer written raw on a socket it handed over (one
    ``ServerReply`` as both): the access log's ``line`` (optional) and, with
    ``metrics``, an answer (``res.answer`` set) counted as a response, in the histogram
    when it is ``"timed"`` (a WebSocket handshake's is not: ``duration`` runs to the
    session's close); a canned reply to a parse error or timeout (``res.answer`` None)
    is counted as a client error already. None when there is nothing to observe."""
    if metrics is None:
        return line

    def observe(req, res, duration):
        if res.answer is not None:
            metrics.count(res.method, res.status_code, duration, res.answer == "timed")
        if line is not None:
            line(req, res, duration)
    return observe


def response_observer(metrics=None, count=None):
    """The server's ``response_observer`` without an access log (logs.AccessLog.observer
    compiles one with it): takes the duration once (from the read that completed the
    head to the socket's last write, which put the response's last byte in the kernel:
    the server calls the observer then), counts the response in ``metrics``
    (a WorkerMetrics) and calls the request ``count`` (each optional); None when there
    is nothing to observe."""
    if metrics is None and count is None:
        return None
    source = "def observe(req, res):\n"
    scope = {"count": count}
    if metrics is not None:
        source += "    duration = req.socket.last_activity - req.start_time\n" + metrics.RECORD
        scope.update(metrics.record_names())
    if count is not None:
        source += "    count()\n"
    exec(compile(source, "<response observer>", "exec"), scope)
    return scope["observe"]
