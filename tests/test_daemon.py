"""The daemon, driven with real signals and real load; tests named after docs/SIGNALS.md."""

import os
import signal
import socket
import sys
import time

import pytest

from daemon import Load, alive, cmdline, python_env, wait_until
from harness import read_until_close


# -- HUP: reload ------------------------------------------------------------------------------
def test_hup_reload_drops_no_request_and_replaces_every_worker(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    before = d.wait_workers(2)
    load = Load(d.port, threads=4)
    try:
        load.wait_count(800)
        d.signal(signal.SIGHUP)
        d.wait_log(r"generation 2 ready")
        wait_until(lambda: not set(d.workers()) & set(before), 15, what="old workers gone")
        target = load.ok + 1200
        load.wait_count(target)
    finally:
        load.stop()
    assert load.failures == []
    assert load.ok >= 2000
    after = d.wait_workers(2)
    assert not set(after) & set(before)
    served_by = {body.split()[-1] for body in load.pids}
    assert {str(p).encode() for p in after} <= served_by  # the new workers served too
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_hup_with_a_broken_config_keeps_the_old_workers(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("keep_alive_timeout = 2.0\n")
    d = daemons("--config", str(config), workers=2)
    d.wait_ready()
    before = d.wait_workers(2)
    config.write_text('keep_alive_timeout = "soon"\ntimeout = 0\nnot_a_setting = 1\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused")
    log = d.log()
    assert f"{config}:keep_alive_timeout: expected a number" in log
    assert f"{config}:timeout: must be at least 0.5" in log
    assert f"{config}:not_a_setting: unknown setting" in log
    assert d.serving_workers() == before
    assert int(d.request().split()[-1]) in before
    assert alive(d.pid)


# -- TTIN, TTOU ---------------------------------------------------------------------------------
def test_ttin_three_times_adds_exactly_three_workers(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    d.wait_workers(1)
    for _ in range(3):
        d.signal(signal.SIGTTIN)
        time.sleep(0.02)  # noqa: pacing, so the kernel does not merge identical pending signals
    d.wait_workers(4)
    d.wait_log(r"booting worker 3 ")
    time.sleep(0.5)  # noqa: a fifth worker would have been forked by now
    assert len(d.serving_workers()) == 4
    assert "booting worker 4 " not in d.log()


def test_ttou_and_max_requests_recycling_drop_no_request(daemons):
    d = daemons("--max-requests", "300", "--max-requests-jitter", "50", workers=3)
    d.wait_ready()
    d.wait_workers(3)
    load = Load(d.port, threads=4)
    try:
        load.wait_count(600)
        d.signal(signal.SIGTTOU)
        d.wait_log(r"TTOU: 2 workers")
        load.wait_count(load.ok + 1500)
    finally:
        load.stop()
    assert load.failures == []
    assert load.ok >= 2000
    assert "reached max_requests" in d.log()
    d.wait_workers(2)


# -- TERM: graceful stop ---------------------------------------------------------------------------
def test_term_finishes_the_request_in_flight_with_connection_close(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    workers = d.wait_workers(2)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sent = time.monotonic()
    sock.sendall(b"GET /sleep/3 HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: time.monotonic() - sent >= 2.0, 5, what="2 s into the handler")
    d.signal(signal.SIGTERM)
    data = read_until_close(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in data and b"slept" in data
    assert time.monotonic() - sent >= 2.9
    assert d.wait_exit(15) == 0
    assert not [p for p in workers + [d.pid] if alive(p)]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", d.port), timeout=2)


# -- INT, QUIT: fast stop ---------------------------------------------------------------------------
def test_quit_stops_at_once(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    workers = d.wait_workers(2)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"GET /sleep/30 HTTP/1.1\r\nHost: x\r\n\r\n")
    start = time.monotonic()
    d.signal(signal.SIGQUIT)
    assert d.wait_exit(10) == 0
    assert time.monotonic() - start < 5
    assert sock.recv(100) == b""
    assert not [p for p in workers if alive(p)]


# -- Supervision ----------------------------------------------------------------------------------------
def test_kill_9_of_a_worker_is_replaced_within_a_second(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    d.wait_workers(2)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    state = {"bytes": 0}
    from daemon import read_response
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    _, body = read_response(sock, state)
    mine = int(body.split()[-1])
    other = [p for p in d.workers() if p != mine][0]
    os.kill(other, signal.SIGKILL)
    killed = time.monotonic()
    replacement = d.wait_workers(2, timeout=1.0, exclude=[other])
    assert time.monotonic() - killed < 1.0 and mine in replacement
    for _ in range(50):  # the surviving worker's connection is unaffected
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _, body = read_response(sock, state)
        assert int(body.split()[-1]) == mine
    sock.close()


def test_a_hung_worker_is_aborted_with_its_stack_and_replaced(daemons):
    d = daemons("--timeout", "1", workers=1)
    d.wait_ready()
    (hung,) = d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    sock.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
    start = time.monotonic()
    d.wait_workers(1, timeout=3.5, exclude=[hung])
    assert time.monotonic() - start < 1 + 2 + 0.5
    d.wait_log(r"sent no heartbeat")
    d.wait_log(r"apps/basic\.py", timeout=5)
    log = d.log()
    assert "Fatal Python error: Aborted" in log and "in on_request" in log
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    sock.close()


def test_app_import_error_is_a_boot_failure(daemons):
    d = daemons(app="apps.broken:setup", workers=2)
    start = time.monotonic()
    code = d.wait_exit(5)
    assert code == 3 and time.monotonic() - start < 5
    log = d.log()
    assert "failed to boot" in log and "missing DATABASE_URL" in log
    assert log.count("booting worker 0") == 1  # no respawn loop


def test_crash_loop_backs_off(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    for _ in range(4):
        (pid,) = d.wait_workers(1)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: pid not in d.workers(), 5, what="worker gone")
    d.wait_log(r"quick death #3")
    d.wait_workers(1, timeout=5)


# -- Configuration ----------------------------------------------------------------------------------------
BAD_CONFIGS = {
    "unknown key": ("colour = \"blue\"\n", "{file}:colour: unknown setting"),
    "wrong type": ("workers = \"two\"\n", "{file}:workers: expected an integer, got 'two'"),
    "a boolean, spelt as the file spells it": ("workers = true\n", "{file}:workers: expected an integer, got true"),
    "out of range": ("backlog = 0\n", "{file}:backlog: must be at least 1, got 0"),
    "unparsable": ("workers = = 2\n", "{file}: not valid TOML"),
    "unimportable app": ("app = \"no_such_module:app\"\n", "{file}:app: no module named 'no_such_module'"),
}


@pytest.mark.parametrize("kind", list(BAD_CONFIGS))
def test_bad_config_exits_2_and_binds_nothing(kind, tmp_path):
    import subprocess
    content, message = BAD_CONFIGS[kind]
    config = tmp_path / "prefork.toml"
    config.write_text(content + f'bind = ["unix:{tmp_path}/sock"]\n')
    proc = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config)], capture_output=True,
                          text=True, timeout=20, cwd=tmp_path, env=python_env())
    assert proc.returncode == 2
    assert message.format(file=config) in proc.stderr
    assert not (tmp_path / "sock").exists()


def test_bad_config_lists_every_problem_at_once(tmp_path):
    import subprocess
    config = tmp_path / "prefork.toml"
    config.write_text('colour = 1\nworkers = "x"\nbacklog = -5\ntimeout = 0\ninterface = "cgi"\nbind = ["nowhere"]\n')
    proc = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config), "--keep-alive-timeout", "x"],
                          capture_output=True, text=True, timeout=20, env=python_env(PREFORK_MAX_REQUESTS="-1"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 8, lines
    for key in ("colour", "workers", "backlog", "timeout", "interface", "bind"):
        assert any(line.startswith(f"{config}:{key}: ") for line in lines), key
    assert any(line.startswith("argv:--keep-alive-timeout: ") for line in lines)
    assert any(line.startswith("env:PREFORK_MAX_REQUESTS: ") for line in lines)


def test_missing_config_file(tmp_path):
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "prefork", "--config", str(tmp_path / "nope.toml")],
                          capture_output=True, text=True, timeout=20, env=python_env())
    assert proc.returncode == 2 and f"{tmp_path / 'nope.toml'}: no such file" in proc.stderr


def test_a_config_file_named_by_prefork_config_that_cannot_be_read_says_where_its_name_came_from(tmp_path):
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config"], capture_output=True, text=True,
                          timeout=20, env={**python_env(), "PREFORK_CONFIG": str(tmp_path / "nope.toml")})
    assert proc.returncode == 2
    assert f"env:PREFORK_CONFIG: {tmp_path / 'nope.toml'}: no such file" in proc.stderr.splitlines(), proc.stderr
    (tmp_path / "bad.toml").write_text("workers = \n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config"], capture_output=True, text=True,
                          timeout=20, env={**python_env(), "PREFORK_CONFIG": str(tmp_path / "bad.toml")})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"env:PREFORK_CONFIG: {tmp_path / 'bad.toml'}: not valid TOML"), proc.stderr


def test_check_config_prints_the_effective_settings(tmp_path):
    import subprocess
    config = tmp_path / "p.toml"
    config.write_text("workers = 3\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config),
                           "--backlog", "100"], capture_output=True, text=True, timeout=20,
                          env=python_env(PREFORK_TIMEOUT="7"))
    assert proc.returncode == 0
    assert f"workers = 3  # {config}:workers" in proc.stdout
    assert "backlog = 100  # argv:--backlog" in proc.stdout
    assert "timeout = 7.0  # env:PREFORK_TIMEOUT" in proc.stdout


def test_config_file_is_what_settings_generate():
    from prefork.settings import render_config
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "config", "prefork.toml")) as fh:
        assert fh.read() == render_config()


def test_default_config_file_loads():
    from prefork import settings
    here = os.path.dirname(os.path.abspath(__file__))
    loaded = settings.load(os.path.join(here, "..", "config", "prefork.toml"), env={})
    assert loaded.bind == ["127.0.0.1:8000"] and loaded.backlog == 2048


# -- USR2: re-exec ----------------------------------------------------------------------------------------
def test_usr2_reexecs_in_place_without_refusing_a_connection(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    before = d.wait_workers(2)
    errors = []
    done = []

    def hammer():
        deadline = time.monotonic() + 20
        while not done and time.monotonic() < deadline:
            try:
                d.request("/", timeout=10)
            except OSError as exc:
                errors.append(repr(exc))
    import threading
    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        time.sleep(0.2)  # noqa: let the client loop run before the signal
        d.signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2, timeout=15)
        after = d.wait_workers(2, timeout=15, exclude=before)
        time.sleep(0.3)  # noqa: keep hammering the new workers a little
    finally:
        done.append(True)
        thread.join(15)
    assert errors == []
    assert alive(d.pid) and "prefork: master" in cmdline(d.pid)
    assert not set(after) & set(before)
    assert d.request().startswith(b"HTTP/1.1 200 OK")


# -- process titles, pidfile ----------------------------------------------------------------------------
def test_process_titles_and_pidfile(daemons, tmp_path):
    pidfile = tmp_path / "prefork.pid"
    d = daemons("--pidfile", str(pidfile), "--proc-name", "shop", workers=2)
    d.wait_ready()
    workers = d.wait_workers(2)
    assert pidfile.read_text().strip() == str(d.pid)
    assert cmdline(d.pid) == "prefork: master [shop]"
    assert sorted(cmdline(p) for p in workers) == ["prefork: worker 0 [shop]", "prefork: worker 1 [shop]"]
    import subprocess
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert f"{d.pid} prefork: master [shop]" in ps
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert not pidfile.exists()


def test_usr1_reopens_log_files(daemons, tmp_path):
    access = tmp_path / "access.log"
    d = daemons("--access-log", str(access), workers=1)
    d.wait_ready()
    d.wait_workers(1)
    d.request("/first")
    wait_until(lambda: access.exists() and b"/first" in access.read_bytes(), 5, what="access line")
    os.rename(access, tmp_path / "access.log.1")
    d.signal(signal.SIGUSR1)
    d.wait_log(r"log files reopened")
    wait_until(lambda: (d.request("/second") and access.exists() and b"/second" in access.read_bytes()), 5,
               interval=0.1, what="the new access log")
    line = access.read_text().splitlines()[-1]
    assert line.startswith("127.0.0.1 - - [") and '"GET /second HTTP/1.1" 200 ' in line


@pytest.mark.skipif(os.getuid() != 0, reason="dropping privileges needs root")
def test_workers_drop_privileges_and_use_the_umask(daemons):
    import pwd
    nobody = pwd.getpwnam("nobody")
    d = daemons("--user", "nobody", "--umask", "0o027", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)

    def status(pid):
        with open(f"/proc/{pid}/status") as fh:
            return dict(line.split(":", 1) for line in fh.read().splitlines())
    worker_status, master_status = status(worker), status(d.pid)
    assert worker_status["Uid"].split()[:2] == [str(nobody.pw_uid)] * 2
    assert worker_status["Gid"].split()[0] == str(nobody.pw_gid)
    assert master_status["Uid"].split()[0] == "0"
    assert worker_status["Umask"].strip() == "0027" and master_status["Umask"].strip() == "0027"
    assert d.request().startswith(b"HTTP/1.1 200 OK")
