"""The daemon under an operator's rough handling: signals at awkward moments, files left
over, a flood on the operations port. Real daemons, real signals; every process is
killed by PID at the end (the ``daemons`` fixture)."""

import json
import os
import re
import resource
import signal
import socket
import textwrap
import time

import pytest

from daemon import alive, cmdline, wait_until
from harness import read_until_close

GATED_APP = """
import os
import re
import time

HOLD = os.environ["GATE"] + ".hold"


def setup(server):
    if os.path.exists(os.environ["GATE"] + ".broken"):
        raise RuntimeError("the app on disk is broken")
    while os.path.exists(HOLD):  # the test holds the boot of this generation
        time.sleep(0.02)

    def on_request(req, res):
        if req.url == "/ignore-term":
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        res.end(str(os.getpid()))
    server.on("request", on_request)
"""


def gated(tmp_path, daemons, *args, workers=1, config="", **kwargs):
    """A daemon of GATED_APP from ``tmp_path``: creating ``hold`` holds the next workers' boot."""
    (tmp_path / "gated.py").write_text(textwrap.dedent(GATED_APP))
    conf = tmp_path / "prefork.toml"
    conf.write_text(config)
    gate = str(tmp_path / "gate")
    d = daemons("--app-dir", str(tmp_path), "--config", str(conf), *args, app="gated:setup", workers=workers,
                env={"GATE": gate}, **kwargs)
    return d, conf, tmp_path / "gate.hold"


def get(port, path, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


def status(d):
    head, _, body = get(d.metrics_port(), "/status.json").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return json.loads(body)


def titles(d):
    return sorted(cmdline(pid) for pid in d.serving_workers())


# -- HUP ---------------------------------------------------------------------------------------------
def test_a_hup_during_a_reload_starts_another_once_it_is_done(daemons, tmp_path):
    d, conf, hold = gated(tmp_path, daemons, config='proc_name = "first"\n')
    d.wait_ready()
    hold.touch()
    conf.write_text('proc_name = "second"\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: starting generation 2")
    conf.write_text('proc_name = "third"\n')  # changed again while generation 2 boots
    d.signal(signal.SIGHUP)
    d.wait_log(r"another one starts when it is done")
    hold.unlink()
    d.wait_log(r"reload: generation 3 ready", timeout=20)
    wait_until(lambda: titles(d) == ["prefork: worker 0 [third]"], 15, what="generation 3 serving alone")
    assert status(d)["master"]["generation"] == 3


def test_a_reload_whose_app_fails_is_logged_and_shown_and_the_old_workers_serve(daemons, tmp_path):
    conf = tmp_path / "prefork.toml"
    conf.write_text('app = "apps.basic:setup"\n')
    d = daemons("--config", str(conf), app=None, workers=2)
    d.wait_ready()
    before = d.wait_workers(2)
    conf.write_text('app = "apps.broken:setup"\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused: a new worker failed to boot")
    master = status(d)["master"]
    assert master["reload_failures"] == 1 and master["reloads"] == 0  # (a failed one is no reload)
    assert "missing DATABASE_URL" in master["last_reload_error"]
    scraped = d.scrape()
    assert scraped[("prefork_reload_failures_total", ())] == 1 and scraped[("prefork_reloads_total", ())] == 0
    wait_until(lambda: d.serving_workers() == before, 10, what="the new generation gone")
    assert int(d.request().split()[-1]) in before

    conf.write_text('app = "apps.basic:setup"\n')  # fixed: the next reload goes through and clears it
    d.signal(signal.SIGHUP)
    d.wait_log(r"generation \d+ ready")
    wait_until(lambda: status(d)["master"]["last_reload_error"] is None, 10, what="the error cleared")
    assert status(d)["master"]["reload_failures"] == 1 and status(d)["master"]["reloads"] == 1


def test_a_bad_configuration_on_hup_is_counted_as_a_failed_reload(daemons, tmp_path):
    conf = tmp_path / "prefork.toml"
    conf.write_text("keep_alive_timeout = 2.0\n")
    d = daemons("--config", str(conf), workers=1)
    d.wait_ready()
    conf.write_text("keep_alive_timeout = nan\nerror_log = '/proc/none/e.log'\n")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused")
    master = status(d)["master"]
    assert master["reload_failures"] == 1
    assert master["last_reload_error"].startswith(f"configuration: {conf}:keep_alive_timeout: expected a finite")
    assert master["last_reload_error"].endswith("(and 1 more)")
    assert d.request().startswith(b"HTTP/1.1 200 OK")


# -- TERM, INT, TTOU ---------------------------------------------------------------------------------
def test_term_during_a_reload_stops_both_generations(daemons, tmp_path):
    d, conf, hold = gated(tmp_path, daemons, workers=2)
    d.wait_ready()
    hold.touch()
    d.signal(signal.SIGHUP)
    d.wait_log(r"booting worker 1 \(pid \d+, generation 2\)")
    d.workers()  # remember every pid for the check below
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert not [pid for pid in d.seen if alive(pid)]


def test_int_twice_stops_once_with_status_0(daemons):
    """Ctrl-C pressed twice: the second may come at any moment of the stop, also while
    the interpreter winds down (where Python puts back the default action)."""
    d = daemons(workers=2)
    d.wait_ready()
    d.workers()
    d.signal(signal.SIGINT)
    d.signal(signal.SIGINT)
    while d.proc.poll() is None:  # and more of them until it is gone
        try:
            d.signal(signal.SIGINT)
        except ProcessLookupError:
            break
        time.sleep(0.001)  # noqa: pacing a signal storm, not waiting for a condition
    assert d.wait_exit(30) == 0
    assert d.log().count("fast stop") == 1
    assert not [pid for pid in d.seen if alive(pid)]


def test_ttou_never_goes_below_one_worker_and_says_so(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    (pid,) = d.wait_workers(1)
    d.signal(signal.SIGTTOU)
    d.wait_log(r"TTOU ignored: one worker is the fewest there may be")
    assert d.serving_workers() == [pid] and d.request().startswith(b"HTTP/1.1 200 OK")


def test_a_worker_that_ignores_term_is_killed_after_the_graceful_timeout(daemons, tmp_path):
    d, _, _ = gated(tmp_path, daemons, "--graceful-timeout", "1")
    d.wait_ready()
    (pid,) = d.wait_workers(1)
    assert d.request("/ignore-term").endswith(str(pid).encode())
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert "did not stop in time; killing it" in d.log()
    assert not alive(pid)


# -- files left over -----------------------------------------------------------------------------------
def test_a_pidfile_held_by_a_running_master_refuses_a_second_one(daemons, tmp_path):
    pidfile = tmp_path / "prefork.pid"
    first = daemons("--pidfile", str(pidfile), workers=1)
    first.wait_ready()
    assert pidfile.read_text().strip() == str(first.pid)
    second = daemons("--pidfile", str(pidfile), workers=1)
    assert second.wait_exit(30) == 2
    assert f"argv:--pidfile: {pidfile}: prefork is already running as pid {first.pid}" in second.log()
    assert pidfile.read_text().strip() == str(first.pid)


def test_a_stale_pidfile_is_replaced(daemons, tmp_path):
    pidfile = tmp_path / "prefork.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # a live process, but not a prefork master: a reused PID
    d = daemons("--pidfile", str(pidfile), workers=1)
    d.wait_ready()
    assert pidfile.read_text().strip() == str(d.pid)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert not pidfile.exists()


def test_a_stale_unix_socket_is_replaced_and_removed_at_exit_but_kept_across_usr2(daemons, tmp_path):
    path = tmp_path / "prefork.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays; nobody listens
    d = daemons("--bind", f"unix:{path}", workers=1, bind_socket=False)
    d.wait_ready()

    def unix_get():
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(str(path))
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return read_until_close(sock)
        finally:
            sock.close()
    assert unix_get().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGUSR2)
    d.wait_log(r"workers ready", count=2, timeout=30)
    assert unix_get().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert not path.exists()


# -- the operations port under abuse ---------------------------------------------------------------------
def test_a_flood_on_the_operations_port_leaves_supervision_working(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    port = d.metrics_port()
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (128, 128))
    flood = []
    try:
        for _ in range(200):
            flood.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        # the master keeps at most 64 of them: each newcomer past them takes the place of
        # the oldest of its address (all of them are 127.0.0.1's), so the last 64 stay
        closed = 0
        for sock in flood[:136]:
            try:
                closed += sock.recv(1) == b""
            except ConnectionResetError:
                closed += 1
        assert closed == 136
        for sock in flood[136:]:  # (the 200th was accepted: it closed the 136th)
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
        first, second = d.wait_workers(2)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: (lambda w: w if len(w) == 2 and first not in w else None)(d.serving_workers()), 15,
                   what="the killed worker replaced")
        d.signal(signal.SIGHUP)
        d.wait_log(r"generation 2 ready", timeout=20)
    finally:
        for sock in flood:
            sock.close()
    assert "Too many open files" not in d.log(), d.log()
    # the flood gone (the master sees the closes on its next turns), probes are served again
    wait_until(lambda: get(port, "/healthz").startswith(b"HTTP/1.1 200 OK"), 10, what="a probe answered")


def test_a_trickling_operations_client_neither_blocks_the_master_nor_stays(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        slow.sendall(b"GET /metr")
        d.signal(signal.SIGTTIN)  # the master acts on signals and answers others meanwhile
        d.wait_workers(2)
        assert get(port, "/healthz").startswith(b"HTTP/1.1 200 OK")
        start = time.monotonic()
        answer = read_until_close(slow)  # closed by the master's request timeout, the head unfinished
        assert time.monotonic() - start < 25
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    finally:
        slow.close()
    assert alive(d.pid)


def test_garbage_on_the_operations_port_gets_a_400_and_the_master_serves_on(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64, b"GET / HTTP/9.9\r\n\r\n",
                 b"\r\n" * 10 + b"BREW /coffee HTCPCP/1.0\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(junk)
            answer = read_until_close(sock)
        except ConnectionError:  # closed while the junk was still going out
            answer = b""
        finally:
            sock.close()
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]
    assert get(port, "/readyz").startswith(b"HTTP/1.1 200 OK")
    assert alive(d.pid)


# -- USR2 ----------------------------------------------------------------------------------------------------
def test_usr2_with_a_configuration_gone_bad_is_refused_and_changes_nothing(daemons, tmp_path):
    conf = tmp_path / "prefork.toml"
    conf.write_text("keep_alive_timeout = 2.0\n")
    d = daemons("--config", str(conf), workers=2)
    d.wait_ready()
    before = d.wait_workers(2)
    conf.write_text("timeout = 0\n")
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2 refused: the new program's check-config exited with status 2")
    assert f"USR2: {conf}:timeout: must be at least 0.5, got 0" in d.log()
    assert d.serving_workers() == before and alive(d.pid)
    assert int(d.request().split()[-1]) in before
    d.signal(signal.SIGHUP)  # still supervising: a later reload (refused, same problem) is handled
    d.wait_log(r"reload refused")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0


def test_usr2_when_the_new_code_does_not_import_keeps_the_running_master(daemons, tmp_path):
    import shutil
    from daemon import HERE, ROOT
    shutil.copytree(os.path.join(ROOT, "prefork"), tmp_path / "prefork",
                    ignore=shutil.ignore_patterns("__pycache__"))
    d = daemons(workers=1, env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{HERE}", "PYTHONDONTWRITEBYTECODE": "1"})
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    with open(tmp_path / "prefork" / "settings.py", "a") as fh:
        fh.write("\ndef broken(:\n")  # a bad upgrade deployed in place
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2 refused: the new program's check-config exited with status 1")
    assert "SyntaxError" in d.log()
    assert d.serving_workers() == [worker] and d.request().startswith(b"HTTP/1.1 200 OK")
    d.signal(signal.SIGTTIN)  # the master still acts on signals
    d.wait_workers(2)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0


# -- crash loops ---------------------------------------------------------------------------------------------
def test_a_worker_that_no_longer_boots_backs_off_and_recovers_once_the_app_is_fixed(daemons, tmp_path):
    d, _, _ = gated(tmp_path, daemons)
    d.wait_ready()
    (pid,) = d.wait_workers(1)
    broken = tmp_path / "gate.broken"
    broken.touch()  # the code on disk breaks; the running worker is fine until it dies
    start = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    d.wait_log(r"quick death #5", timeout=30)
    elapsed = time.monotonic() - start
    log = d.log()
    assert elapsed >= 0.1 + 0.2 + 0.4  # the respawns before the fifth death waited their turns
    assert log.count("the app on disk is broken") >= 4
    assert log.count("booting worker 0") <= 2 + log.count("died (")  # one new worker per death, no more
    assert alive(d.pid)
    broken.unlink()
    wait_until(lambda: d.serving_workers() and d.request(timeout=20).startswith(b"HTTP/1.1 200 OK"), 60,
               what="the slot serving again")


def test_a_reload_that_takes_over_before_the_first_boot_finished_makes_the_daemon_ready(daemons, tmp_path):
    """HUP while the first generation still boots: the second takes over (after
    readiness_withdraw), and the daemon then counts as booted and ready."""
    (tmp_path / "held.py").write_text(textwrap.dedent("""
        import os
        import time


        def setup(server):
            with open("/proc/self/cmdline", "rb") as fh:
                held = b"[held]" in fh.read()
            while held and os.path.exists(os.environ["GATE"]):
                time.sleep(0.02)
            server.on("request", lambda req, res: res.end(str(os.getpid())))
    """))
    conf = tmp_path / "prefork.toml"
    conf.write_text('proc_name = "held"\n')
    gate = tmp_path / "gate"
    gate.touch()
    d = daemons("--app-dir", str(tmp_path), "--config", str(conf), "--readiness-withdraw", "0.3", app="held:setup",
                workers=1, env={"GATE": str(gate)})
    try:
        d.wait_log(r"booting worker 0 \(pid \d+, generation 1\)")
        conf.write_text('proc_name = "free"\n')
        d.signal(signal.SIGHUP)
        d.wait_log(r"generation 2 ready", timeout=20)
        wait_until(lambda: get(d.metrics_port(), "/readyz").startswith(b"HTTP/1.1 200 OK"), 15, what="ready")
        assert "workers ready: 1" in d.log()
        assert status(d)["master"]["ready"] is True
    finally:
        gate.unlink()


def test_a_reload_to_a_log_file_that_cannot_be_opened_is_refused_and_logging_goes_on(daemons, tmp_path):
    conf = tmp_path / "prefork.toml"
    conf.write_text("keep_alive_timeout = 2.0\n")
    d = daemons("--config", str(conf), workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    conf.write_text('error_log = "/proc/prefork-error.log"\n')  # its directory exists; the file cannot be made
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused: cannot open /proc/prefork-error\.log: no such file or directory")
    assert status(d)["master"]["reload_failures"] == 1 and d.serving_workers() == [worker]
    d.signal(signal.SIGTTIN)
    d.wait_log(r"TTIN: 2 workers")  # the error log is the one it was


def test_term_right_after_usr2_stops_without_a_re_exec(daemons, tmp_path):
    from daemon import HERE, ROOT
    # the check takes its time here, so that the TERM surely comes while it runs
    (tmp_path / "sitecustomize.py").write_text("import sys, time\nif 'check-config' in sys.orig_argv:\n"
                                               "    time.sleep(5)\n")
    d = daemons(workers=2, env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    d.wait_ready()
    d.wait_workers(2)
    d.signal(signal.SIGUSR2)
    d.wait_log(r"USR2: checking the new program \(pid \d+\)")
    check = int(re.search(r"USR2: checking the new program \(pid (\d+)\)", d.log()).group(1))
    d.seen.add(check)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    log = d.log()
    assert "re-executing the master" not in log and "USR2 refused" not in log
    assert log.count("master exiting with status 0") == 1
    assert not [pid for pid in d.seen if alive(pid)]


def test_a_worker_that_cannot_be_started_for_want_of_descriptors_is_tried_again(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    first, second = d.wait_workers(2)
    in_use = {int(fd) for fd in os.listdir(f"/proc/{d.pid}/fd")}
    lowest_free = min(set(range(len(in_use) + 1)) - in_use)
    # no descriptor number is free below the limit: the dead worker's channel frees one,
    # and a new worker needs two
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (lowest_free, 4096))
    os.kill(first, signal.SIGKILL)
    d.wait_log(r"cannot start worker 0: Too many open files", count=2, timeout=20)  # tried again
    assert d.serving_workers() == [second] and alive(d.pid)
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (4096, 4096))
    wait_until(lambda: (lambda w: w if len(w) == 2 and first not in w else None)(d.serving_workers()), 15,
               what="the slot filled again")
    assert d.request().startswith(b"HTTP/1.1 200 OK")


def test_int_during_a_graceful_stop_makes_it_a_fast_stop(daemons):
    """TERM with a request in flight, then Ctrl-C: the stop becomes the fast stop (as
    gunicorn's), the request in flight is cut, and the status is 0 (docs/SIGNALS.md)."""
    d = daemons(workers=1)
    d.wait_ready()
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the worker holds the connection from now on
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        sock.sendall(b"GET /sleep/20 HTTP/1.1\r\nHost: x\r\n\r\n")
        d.signal(signal.SIGTERM)
        d.wait_log(r"graceful stop")
        d.signal(signal.SIGINT)
        assert d.wait_exit(15) == 0
        assert "fast stop" in d.log()
        assert read_until_close(sock) == b""  # cut, not answered
    finally:
        sock.close()
