"""The status page's data (``/status.json``) and the page itself (``/status``).

Rules:
- One snapshot function reads the master's state (worker table, aggregated counts,
  readiness and liveness, each with the reason ``/readyz`` and ``/healthz`` give) and
  each worker's /proc entry; nothing is cached between requests. The page says why the
  daemon is not live (a stale worker, a crash loop) as ``/healthz`` does.
- The page is one self-contained HTML document (no external asset): it embeds the
  snapshot it was served with, renders it with a small inline script, and replaces the
  table from ``status.json`` every few seconds (``?refresh=SECONDS``, 0.5 to 3600). The
  script writes text only (``textContent``), never markup.
- Without JavaScript the page reloads itself and shows the snapshot as JSON.
- After a USR2 re-exec the workers of the previous master, draining, are listed too
  (``previous_master``): they report to nobody any more, so only their pid, RSS and
  CPU are known.
"""

import json
import os
import re

from ..metrics import proc_stats
from . import deadlines, health
from .status_page import PAGE

DEFAULT_REFRESH = 2.0
MIN_REFRESH = 0.5
MAX_REFRESH = 3600.0
PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def worker_state(worker):
    if worker.retiring:
        return "draining"
    return "serving" if worker.ready else "booting"


def snapshot(master):
    """The daemon at a glance, as plain JSON-able data."""
    now = master.clock()
    limit = health.fresh_limit(master.settings.timeout)
    workers = []
    for worker in sorted(master.workers.values(), key=lambda w: (w.generation, w.slot, w.started)):
        stats = worker.stats
        usage = proc_stats(worker.pid)
        beat_age = max(0.0, now - worker.last_beat)
        workers.append({
            "slot": worker.slot, "pid": worker.pid, "generation": worker.generation,
            "state": worker_state(worker), "age": round(now - worker.started, 3),
            "requests": sum(stats.get("requests", {}).values()),
            "connections": stats.get("connections", 0),
            "rss": usage[0] if usage else None, "cpu": round(usage[1], 2) if usage else None,
            "heartbeat_age": round(beat_age, 3),
            "stale": health.is_stale(worker, now, heard=deadlines.heard_from(master, worker)),
        })
    for pid in sorted(master.foreign):
        usage = proc_stats(pid)
        if usage is None:
            continue  # gone (or a zombie about to be reaped)
        # a worker of the master this one re-executed from, draining: it reports to nobody
        # now, so what /proc says is all there is
        workers.append({
            "slot": None, "pid": pid, "generation": None, "state": "draining", "age": None,
            "requests": None, "connections": None, "rss": usage[0], "cpu": round(usage[1], 2),
            "heartbeat_age": None, "stale": False, "previous_master": True,
        })
    totals = master.aggregator.totals([w.stats for w in master.workers.values() if w.stats])
    ready, readiness = health.readiness(master)
    live, liveness = health.liveness(master)
    return {
        "master": {
            "pid": os.getpid(), "name": master.settings.name, "uptime": round(now - master.started_at, 3),
            "generation": master.generation, "reloads": master.reloads, "target_workers": master.target,
            "reload_failures": master.reload_failures, "last_reload_error": master.last_reload_error,
            "ready": ready, "readiness": readiness, "live": live,
            "liveness": "; ".join(liveness.strip().splitlines()), "heartbeat_limit": limit,
        },
        "workers": workers,
        "totals": {
            "workers": len(workers),
            "requests": sum(totals.get("requests", {}).values()),
            "connections": totals.get("connections", 0),
            "rss": sum(w["rss"] or 0 for w in workers),
            "cpu": round(sum(w["cpu"] or 0 for w in workers), 2),
            "restarts": sum(master.restarts.values()),
        },
    }


def as_json(master):
    return json.dumps(snapshot(master), separators=(",", ":")) + "\n"


def page(master, query=""):
    """The HTML page, with the current snapshot embedded."""
    refresh = DEFAULT_REFRESH
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "refresh":
            try:
                refresh = float(value)
            except ValueError:
                continue
            refresh = min(max(refresh, MIN_REFRESH), MAX_REFRESH) if refresh == refresh else DEFAULT_REFRESH
    import html  # when the page is asked for: not in every worker forked from the master

    data = snapshot(master)
    values = {
        "TITLE": html.escape(f"prefork: {data['master']['name']}"),
        "REFRESH": repr(refresh),
        "NOSCRIPT_REFRESH": str(max(1, round(refresh))),
        "PRETTY": html.escape(json.dumps(data, indent=1)),
        "DATA": json.dumps(data, separators=(",", ":")).replace("<", "\\u003c"),  # no </script> inside
    }
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], PAGE)
