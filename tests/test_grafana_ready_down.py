"""The dashboard's Ready panel with a daemon down: Prometheus can no longer scrape it, its
``prefork_ready`` goes stale and vanishes, and the panel must say "not ready" (0) rather
than show nothing (or, beside other instances still up, "ready"). A real Prometheus
(Debian's ``prometheus``, see test_prometheus.py) scrapes a real daemon that is then
stopped; every process is killed by PID at the end."""

import signal

from daemon import wait_until
from test_grafana import load_dashboard, substitute
from test_prometheus import Prometheus, prometheus_binary  # noqa: F401 (a fixture)


def ready_expr():
    panel, = [p for p in load_dashboard()["panels"] if p["title"] == "Ready"]
    target, = panel["targets"]
    return substitute(target["expr"])


def test_the_ready_panel_says_not_ready_for_a_daemon_that_is_down(prometheus_binary, daemons, tmp_path):  # noqa: F811
    d = daemons(workers=1)
    d.wait_ready()
    prom = Prometheus(prometheus_binary, str(tmp_path), {"prefork": d.metrics_port()})
    try:
        expr = ready_expr()
        wait_until(lambda: [v for _, v in prom.query(expr)] == [1.0], 30, interval=0.1, what="ready on the panel")
        d.signal(signal.SIGTERM)
        d.wait_exit()
        wait_until(lambda: prom.query('up{job="prefork"} == 0'), 30, interval=0.1, what="the daemon seen down")
        try:
            wait_until(lambda: [v for _, v in prom.query(expr)] == [0.0], 10, interval=0.1, what="not ready")
        except TimeoutError:
            raise AssertionError(f"the Ready panel with the daemon down: {prom.query(expr)}") from None
    finally:
        prom.stop()
