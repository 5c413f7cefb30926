"""An operator replacing gunicorn or uvicorn with prefork: what the daemon's own output
looks like to a log collector, and how a worker's memory is bounded.

Each test runs the real daemon; every process it starts is killed by PID at the end."""

import signal

from daemon import wait_until

APP = "apps.journey_ops:setup"
UNBUFFERED_OFF = {"PYTHONUNBUFFERED": ""}  # as a container runs it: no -u, no variable


def test_an_apps_printed_lines_reach_the_log_collector_while_the_worker_runs(daemons):
    d = daemons(app=APP, workers=1, env=UNBUFFERED_OFF)
    d.wait_ready()
    assert b"200 OK" in d.request("/print/first-line-from-the-app")
    wait_until(lambda: "first-line-from-the-app\n" in d.log(), 10, what="the printed line in the log")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_what_an_app_printed_without_a_newline_is_written_when_its_worker_exits(daemons):
    d = daemons(app=APP, workers=1, env=UNBUFFERED_OFF)
    d.wait_ready()
    assert b"200 OK" in d.request("/partial/unfinished-line")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert "unfinished-line" in d.log()
