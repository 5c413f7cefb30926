"""Signals that arrive at awkward moments: while the master re-executes itself (USR2),
the new program has not installed its handlers yet. Such a signal must wait for them,
neither kill the master with its default action nor vanish (as it would for PID 1).

Every process started is killed by PID at the end."""

import re
import signal

import pytest

from daemon import alive, cmdline, wait_until

APP = "apps.journey_ops:setup"


def reexec_started(d):
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: re-executing the master", timeout=30)


@pytest.mark.parametrize("signum, effect", [
    (signal.SIGHUP, r"reload: generation \d+ ready"),
    (signal.SIGUSR1, r"log files reopened"),
    (signal.SIGTTIN, r"TTIN: 3 workers"),
])
def test_a_signal_sent_during_a_reexec_is_handled_by_the_new_program(daemons, signum, effect):
    d = daemons(app=APP, workers=2)
    d.wait_ready()
    reexec_started(d)
    d.signal(signum)  # the old program is gone or going: its handlers are no more
    d.wait_log(effect, timeout=30)
    assert d.proc.poll() is None, d.log()
    assert alive(d.pid) and "prefork: master" in cmdline(d.pid)
    assert d.request("/").startswith(b"HTTP/1.1 200 OK")


def test_term_during_a_reexec_stops_gracefully_with_status_0(daemons):
    d = daemons(app=APP, workers=2)
    d.wait_ready()
    reexec_started(d)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0, d.log()
    assert "graceful stop" in d.log().split("USR2: re-executing the master")[1]
    wait_until(lambda: not any(alive(pid) for pid in d.workers()), 30, what="no worker left")


def test_usr1_while_workers_boot_reopens_their_logs_once_they_are_up(daemons, tmp_path):
    error = tmp_path / "error.log"
    d = daemons("--error-log", str(error), app="apps.journey_ops:slow_setup", workers=2,
                env={"BOOT_SECONDS": "2"})
    wait_until(lambda: error.exists() and len(re.findall(r"booting worker", error.read_text())) == 2, 20,
               what="two workers booting")
    error.rename(tmp_path / "error.log.1")  # logrotate, then its postrotate USR1, mid-boot
    d.signal(signal.SIGUSR1)
    wait_until(lambda: error.exists() and "workers ready: 2" in error.read_text(), 30,
               what=f"the workers ready: {(tmp_path / 'error.log.1').read_text()}")
    workers = d.wait_workers(2)

    def written():  # each worker writes its stderr into the new file
        d.request("/stderr/after-boot")
        return all(f"after-boot {pid}\n" in error.read_text() for pid in workers)
    wait_until(written, 20, interval=0.05, what="both workers writing to the new error log")
    assert "failed to boot" not in error.read_text() + (tmp_path / "error.log.1").read_text()


def test_the_log_says_which_version_runs_at_start_and_after_a_reexec(daemons):
    import prefork
    d = daemons(app=APP, workers=1)
    d.wait_ready()
    line = rf"INFO prefork\.master: prefork {re.escape(prefork.__version__)} on Python \d+\.\d+\.\d+, " \
           rf"master pid {d.pid}: {re.escape(APP)}, 1 worker"
    d.wait_log(line)
    d.signal(signal.SIGUSR2)  # a new version is confirmed by the log, not guessed
    d.wait_log(line, count=2, timeout=30)


def test_an_app_whose_boot_hangs_past_timeout_is_named_as_still_booting(daemons):
    d = daemons("--timeout", "1", app="apps.journey_ops:slow_setup", workers=1, env={"BOOT_SECONDS": "60"})
    assert d.wait_exit(30) == 3
    log = d.log()
    assert re.search(r"worker 0 \(pid \d+\) is still booting after \d+\.\d s: loading its app \(import, setup\) took "
                     r"longer than timeout \(1\.0 s\); "
                     r"aborting it \(stack follows in the error log\)", log), log
    assert "in slow_setup" in log  # where it hung
    assert "sent no heartbeat" not in log


def test_gunicorn_and_uvicorn_environment_variables_are_warned_about(daemons):
    d = daemons(app=APP, workers=1, env={"GUNICORN_CMD_ARGS": "--workers=3", "UVICORN_PORT": "9000"})
    d.wait_ready()
    log = d.log()
    assert "warning: env:GUNICORN_CMD_ARGS: gunicorn's, ignored: give prefork the flags (--workers=3), or " \
           "PREFORK_<NAME> variables" in log
    assert "warning: env:UVICORN_PORT: uvicorn's, ignored: use PREFORK_BIND" in log
    assert len(d.wait_workers(1)) == 1


def endpoint(d, path):
    import socket

    from harness import read_until_close
    sock = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=10)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    return int(head.split()[1]), body.decode()


def test_every_signal_under_load_drops_nothing_and_the_counts_stay_exact(daemons, tmp_path):
    """HUP, TTIN, TTOU, USR1 (with a logrotate rename) and HUP again while clients
    hammer the daemon: no request fails, every one is counted once in /metrics and
    logged once across the rotated and the new access log, and /healthz and /readyz
    end at 200."""
    from daemon import Load
    access = tmp_path / "access.log"
    d = daemons("--access-log", str(access), "--access-log-format", "{p} {r} {s}", app=APP, workers=2)
    d.wait_ready()
    load = Load(d.port, threads=4, max_seconds=90)
    try:
        load.wait_count(50)
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload: generation 2 ready", timeout=30)
        d.signal(signal.SIGTTIN)
        d.wait_log(r"TTIN: 3 workers", timeout=30)
        d.wait_workers(3, timeout=30)
        d.signal(signal.SIGTTOU)
        d.wait_log(r"TTOU: 2 workers", timeout=30)
        access.rename(tmp_path / "access.log.1")
        d.signal(signal.SIGUSR1)
        d.wait_log(r"log files reopened", timeout=30)
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload: generation 3 ready", timeout=30)
        served = load.ok
        load.wait_count(served + 50)
    finally:
        load.stop()
    assert load.failures == []
    total = load.ok

    def counted():
        samples = d.scrape()
        return sum(v for (name, labels), v in samples.items() if name == "prefork_requests_total")
    wait_until(lambda: counted() == total, 20, interval=0.2, what=f"{total} requests counted, not {counted()}")

    def logged():
        lines = (tmp_path / "access.log.1").read_text().splitlines() + \
            (access.read_text().splitlines() if access.exists() else [])
        return [line for line in lines if line.endswith(" GET / HTTP/1.1 200")]
    wait_until(lambda: len(logged()) == total, 20, interval=0.2, what=f"{total} lines logged, not {len(logged())}")
    assert access.exists() and access.read_text()  # the new file took lines after the rotation
    wait_until(lambda: endpoint(d, "/readyz") == (200, "ready\n"), 30, what="ready after the last reload")
    assert endpoint(d, "/healthz")[0] == 200
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
