"""The daemon under operator mistakes and a slow master: real processes, real signals.

Named after the defects they cover: signals to the whole process group, a master too
busy to read its workers' channels, bind addresses that cannot work, TTIN/TTOU across
a reload.
"""

import os
import re
import signal
import time
import socket
import subprocess
import sys

import pytest

from daemon import alive, cmdline, python_env, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- a signal to the whole process group ----------------------------------------------------------
@pytest.mark.parametrize("signum, stop_line", [(signal.SIGINT, "fast stop"), (signal.SIGTERM, "graceful stop")])
def test_a_signal_to_the_process_group_acts_as_a_signal_to_the_master(daemons, signum, stop_line):
    """Ctrl-C in a terminal, ``timeout``, ``kill -TERM -PGID``: no worker is replaced."""
    for _ in range(3):  # the race it guards against showed up in most runs
        d = daemons(workers=4, new_session=True)
        d.wait_ready()
        workers = d.wait_workers(4)
        os.killpg(d.pid, signum)  # the daemon leads its own group, as a shell job would
        assert d.wait_exit() == 0  # what the same signal to the master alone gives
        log = d.log()
        assert stop_line in log and "master exiting with status 0" in log
        assert "died" not in log and "replacing" not in log, log
        assert log.count("booting worker") == 4, log
        wait_until(lambda: not [p for p in workers if alive(p)], 5, what="every worker gone")


def test_ctrl_c_in_a_terminal_stops_without_replacing_a_worker(tmp_path):
    """The daemon as a shell's foreground job on a real terminal (a pty), then ^C."""
    for attempt in range(3):  # the race it guards against showed up in about half the runs
        _run_in_a_terminal_and_press_ctrl_c(tmp_path / f"error{attempt}.log")


def _run_in_a_terminal_and_press_ctrl_c(log_path):
    import fcntl
    import termios
    from daemon import children
    terminal, tty = os.openpty()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def take_the_terminal():  # the new session's leader makes the pty its controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    seen = set()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "4", "--access-log", "",
             "--metrics-bind", "", "--bind", f"fd://{listener.fileno()}"],
            stdin=tty, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),), env=python_env(),
            cwd=log_path.parent, start_new_session=True, preexec_fn=take_the_terminal)
    listener.close()
    os.close(tty)
    try:
        wait_until(lambda: b"workers ready" in log_path.read_bytes(), 10, what="workers ready")
        seen.update(children(proc.pid))
        assert len(seen) == 4
        os.write(terminal, b"\x03")  # ^C: the line discipline signals the foreground process group
        assert proc.wait(15) == 0
        log = log_path.read_text()
        assert "fast stop" in log and "replacing" not in log and log.count("booting worker") == 4, log
        wait_until(lambda: not [p for p in seen if alive(p)], 5, what="every worker gone")
    finally:
        os.close(terminal)
        seen.update(children(proc.pid))
        for pid in [proc.pid, *seen]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(5)


def test_workers_exit_when_the_master_is_killed(daemons):
    d = daemons(workers=2)
    d.wait_ready()
    workers = d.wait_workers(2)
    d.signal(signal.SIGKILL)
    d.wait_exit()
    wait_until(lambda: not [p for p in workers if alive(p)], 10, what="workers gone after the master's SIGKILL")


# -- a slow master ------------------------------------------------------------------------------------
def _borrow_fd(pid, fd):
    """A duplicate of ``pid``'s descriptor ``fd`` (pidfd_getfd(2)): the same open socket."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on x86_64 and arm64
        if dup < 0:
            err = ctypes.get_errno()
            pytest.skip(f"pidfd_getfd: {os.strerror(err)}")
        return dup
    finally:
        os.close(pidfd)


def _channel_of(worker, master):
    """(fd number in the worker, our duplicate socket) of the worker's end of its channel:
    the one AF_UNIX stream socket whose pair the master created (SO_PEERCRED)."""
    import struct
    for name in os.listdir(f"/proc/{worker}/fd"):
        try:
            if not os.readlink(f"/proc/{worker}/fd/{name}").startswith("socket:"):
                continue
        except OSError:
            continue
        sock = socket.socket(fileno=_borrow_fd(worker, int(name)))
        if sock.family == socket.AF_UNIX and sock.type == socket.SOCK_STREAM:
            peer_pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
            if peer_pid == master:
                return int(name), sock
        sock.close()
    raise AssertionError("no channel socket found in the worker")


def _watched_for_writing(pid, fd):
    """Whether ``pid``'s epoll set waits for ``fd`` to become writable (from /proc fdinfo)."""
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") != "anon_inode:[eventpoll]":
                continue
            with open(f"/proc/{pid}/fdinfo/{name}") as fh:
                info = fh.read()
        except OSError:
            continue
        for match in re.finditer(r"^tfd:\s+(\d+)\s+events:\s+([0-9a-f]+)", info, re.M):
            if int(match.group(1)) == fd and int(match.group(2), 16) & 0x4:  # EPOLLOUT
                return True
    return False


def test_a_stopped_master_does_not_make_a_worker_drain(daemons):
    """The master stopped (SIGSTOP) until the worker's channel is full: the worker queues
    its heartbeats and keeps serving; once the master runs again it catches up."""
    d = daemons(workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    fd, channel = _channel_of(worker, d.pid)
    d.signal(signal.SIGSTOP)
    try:
        channel.setblocking(False)
        while True:  # fill the channel with blank lines (the master skips them)
            try:
                channel.send(b"\n" * 4096)
            except BlockingIOError:
                break
        # the worker's next heartbeat meets the full channel: it either drains (the defect)
        # or waits for the socket to become writable
        wait_until(lambda: not alive(worker) or "draining" in (cmdline(worker) or "")
                   or _watched_for_writing(worker, fd), 5, what="the worker's next heartbeat")
        assert alive(worker) and "draining" not in cmdline(worker)
        assert d.request().split()[-1] == str(worker).encode()  # still serving, master stopped
    finally:
        d.signal(signal.SIGCONT)
        channel.close()
    wait_until(lambda: not _watched_for_writing(worker, fd), 5, what="the queue flushed")
    assert d.request().split()[-1] == str(worker).encode()
    assert d.serving_workers() == [worker]
    log = d.log()
    assert "died" not in log and "stopped:" not in log and "heartbeat" not in log, log


def test_a_full_channel_queues_in_order_and_keeps_only_the_latest_heartbeat():
    """A worker-side Channel on a real socketpair filled to EAGAIN, flushed by a real loop."""
    from prefork.control import Channel
    from prefork.loop import Loop
    master_end, worker_end = Channel.pair()
    worker_end.sock.setblocking(False)
    loop = Loop()
    worker_end.attach(loop)
    filler = 0
    while True:
        try:
            filler += worker_end.sock.send(b"\n" * 4096)
        except BlockingIOError:
            break
    assert worker_end.send("ready", pid=1) is True  # a full socket is not a gone master
    assert worker_end.send("hb", stats={"n": 1}) is True
    assert worker_end.send("recycle", requests=5) is True
    assert worker_end.send("hb", stats={"n": 2}) is True
    assert worker_end.queued() > 0
    received = []
    master_end.sock.setblocking(False)

    def on_readable():
        messages = master_end.receive()
        received.extend(messages or ())
        if any(m["t"] == "hb" for m in received):
            loop.stop()
    loop.add_reader(master_end.fileno(), on_readable)
    loop.call_later(5, loop.stop)
    loop.run()
    assert [m["t"] for m in received] == ["ready", "recycle", "hb"]
    assert received[-1]["stats"] == {"n": 2}
    assert worker_end.queued() == 0
    master_end.close()
    assert worker_end.send("hb", stats={}) is False  # only a closed peer is gone
    worker_end.close()
    loop.close()


def test_descriptors_sent_to_the_masters_end_are_closed_and_the_workers_end_holds_a_bounded_number():
    """A worker (its app) sending descriptors up its channel cannot fill the master's
    descriptor table; the worker's end keeps at most MAX_HELD unclaimed ones."""
    from prefork.control import MAX_HELD, Channel
    master_end, worker_end = Channel.pair()
    before = len(os.listdir("/proc/self/fd"))
    files = [os.open("/dev/null", os.O_RDONLY) for _ in range(4)]
    try:
        for _ in range(10):
            socket.send_fds(worker_end.sock, [b'{"t":"hb","stats":{}}\n'], files)
            assert [m["t"] for m in master_end.receive()] == ["hb"]
        assert len(os.listdir("/proc/self/fd")) == before + len(files)  # the 40 received are closed
        for _ in range(20):  # unclaimed (no "n" in the message): held up to the bound
            socket.send_fds(master_end.sock, [b'{"t":"reopen"}\n'], files)
            assert [m["t"] for m in worker_end.receive()] == ["reopen"]
        assert len(os.listdir("/proc/self/fd")) == before + len(files) + MAX_HELD
    finally:
        for fd in files:
            os.close(fd)
        master_end.close()
        worker_end.close()
    assert len(os.listdir("/proc/self/fd")) == before - 2  # the held ones closed with the pair


# -- addresses that cannot work --------------------------------------------------------------------------
def _run(*args, env=None, cwd=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=20,
                          env=python_env(**(env or {})), cwd=cwd, **kwargs)


@pytest.mark.parametrize("key, value, problem", [
    ("bind", '["300.1.1.1:80"]', "300.1.1.1:80: 300.1.1.1 is not a valid IPv4 address"),
    ("bind", '["127.0.0.1:80", "[::zz1]:80"]', "[::zz1]:80: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"),
    ("bind", '["[fe80::1::2]:80"]', "[fe80::1::2]:80: fe80::1::2 is not a valid IPv6 address"),
    ("bind", '["no-such-host.invalid:8000"]', "no-such-host.invalid:8000: cannot resolve no-such-host.invalid "
                                              "to an address ("),
    ("metrics_bind", '"300.1.1.1:9464"', "300.1.1.1:9464: 300.1.1.1 is not a valid IPv4 address"),
    ("metrics_bind", '"no-such-host.invalid:9464"', "no-such-host.invalid:9464: cannot resolve"),
])
def test_check_config_rejects_an_address_that_cannot_be_bound(tmp_path, key, value, problem):
    config = tmp_path / "prefork.toml"
    config.write_text(f"{key} = {value}\n")
    proc = _run("check-config", "--config", str(config))
    assert proc.returncode == 2, proc.stdout
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{config}:{key}: {problem}")


def test_check_config_accepts_localhost_and_literals(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('bind = ["localhost:8000", "[::1]:8000", ":8001", "0.0.0.0:0"]\n'
                      'metrics_bind = "localhost:9464"\n')
    proc = _run("check-config", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert 'bind = ["localhost:8000", "[::1]:8000", ":8001", "0.0.0.0:0"]' in proc.stdout


def _taken_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


def _problem_lines(d):
    return [line for line in d.log().splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", line)]


def test_an_address_in_use_names_its_source_and_exits_2(daemons, tmp_path):
    taken, port = _taken_port()
    other, metrics_port = _taken_port()
    try:
        # from the command line: both the main bind and metrics_bind
        d = daemons("--bind", f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{metrics_port}",
                    bind_socket=False, workers=1)
        assert d.wait_exit() == 2
        assert _problem_lines(d) == [f"argv:--bind: 127.0.0.1:{port}: address already in use",
                                     f"argv:--metrics-bind: 127.0.0.1:{metrics_port}: address already in use"]
        assert "booting worker" not in d.log()
        # from the config file
        config = tmp_path / "prefork.toml"
        config.write_text(f'bind = ["unix:{tmp_path}/ok.sock", "127.0.0.1:{port}"]\n'
                          f'metrics_bind = "127.0.0.1:{metrics_port}"\n')
        d = daemons("--config", str(config), "--metrics-bind", f"127.0.0.1:{metrics_port}", bind_socket=False,
                    workers=1)
        assert d.wait_exit() == 2
        assert _problem_lines(d) == [f"{config}:bind: 127.0.0.1:{port}: address already in use",
                                     f"argv:--metrics-bind: 127.0.0.1:{metrics_port}: address already in use"]
        # from the environment
        d = daemons(bind_socket=False, workers=1, env={"PREFORK_BIND": f"127.0.0.1:{port}"})
        assert d.wait_exit() == 2
        assert _problem_lines(d) == [f"env:PREFORK_BIND: 127.0.0.1:{port}: address already in use"]
    finally:
        taken.close()
        other.close()


def test_an_address_not_on_this_host_names_its_source_and_exits_2(daemons):
    d = daemons("--bind", "192.0.2.1:8000", bind_socket=False, workers=1)
    assert d.wait_exit() == 2
    assert _problem_lines(d) == ["argv:--bind: 192.0.2.1:8000: address not available on this host"]


@pytest.mark.skipif(os.getuid() != 0, reason="needs root, to take CAP_NET_BIND_SERVICE away")
def test_a_privileged_port_without_the_capability_names_its_source_and_exits_2(tmp_path):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def drop_bind_capability():  # PR_CAPBSET_DROP, CAP_NET_BIND_SERVICE: gone after exec
        if libc.prctl(24, 10, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as fh:
        if int(fh.read()) <= 80:
            pytest.skip("port 80 is not privileged here")
    proc = _run("--metrics-bind", "", env={"PREFORK_BIND": "127.0.0.1:80"}, cwd=tmp_path,
                preexec_fn=drop_bind_capability)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["env:PREFORK_BIND: 127.0.0.1:80: permission denied "
                                        "(ports below 1024 need root or CAP_NET_BIND_SERVICE)"]


def test_check_config_into_a_closed_pipe_exits_quietly(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line, as `| head -0` would be
    try:
        proc = subprocess.run([sys.executable, "-m", "prefork", "check-config"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=20, env=python_env(), cwd=tmp_path)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 0


# -- TTIN, TTOU across a reload -------------------------------------------------------------------------------
def test_ttin_count_survives_a_reload_until_the_configured_workers_change(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 1\n")
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    first = d.wait_workers(1)
    for count in (2, 3):
        d.signal(signal.SIGTTIN)
        d.wait_log(rf"TTIN: {count} workers")  # one at a time: the kernel merges pending twins
    d.wait_workers(3)
    d.signal(signal.SIGHUP)
    d.wait_log(r"generation 2 ready")
    assert "starting generation 2 with 3 workers" in d.log()
    wait_until(lambda: not set(d.workers()) & set(first) and len(d.workers()) == 3, 10,
               what="the whole old generation gone")
    assert len(d.serving_workers()) == 3
    config.write_text("workers = 2\n")  # the configuration's own value changed: it wins
    d.signal(signal.SIGHUP)
    d.wait_log(r"generation 3 ready")
    assert "starting generation 3 with 2 workers" in d.log()
    d.wait_workers(2)
    d.signal(signal.SIGHUP)  # unchanged again: the count stays
    d.wait_log(r"generation 4 ready")
    assert "starting generation 4 with 2 workers" in d.log()


# -- a short timeout -------------------------------------------------------------------------------------------
def test_a_healthy_worker_outlives_a_timeout_shorter_than_a_second(daemons):
    d = daemons("--timeout", "0.6", workers=1)
    d.wait_ready()
    (pid,) = d.wait_workers(1)
    deadline = time.monotonic() + 2.5  # four timeouts and more: a heartbeat per second would miss them
    answered = 0
    while time.monotonic() < deadline:
        assert d.request("/").startswith(b"HTTP/1.1 200 ")
        answered += 1
    assert d.workers() == [pid]
    assert "sent no heartbeat" not in d.log()
    assert answered > 0


def test_signals_doc_lists_exactly_the_restart_only_settings():
    from prefork.settings import SETTINGS
    with open(os.path.join(ROOT, "docs", "SIGNALS.md")) as fh:
        text = fh.read()
    paragraph = text[text.index("Restart-only settings:"):].split(".\n", 1)[0]
    listed = re.findall(r"`(\w+)`", paragraph)
    assert sorted(listed) == sorted(s.name for s in SETTINGS if not s.reloadable)
    assert len(listed) == len(set(listed))


def test_a_reload_to_fewer_workers_completes(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 2\n")
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    first = d.wait_workers(2)
    config.write_text("workers = 1\n")
    d.signal(signal.SIGHUP)
    d.wait_log(r"generation 2 ready")
    wait_until(lambda: not set(d.workers()) & set(first), 10, what="the old generation gone")
    assert len(d.serving_workers()) == 1


# -- checking the app does not import it --------------------------------------------------------------------
def test_checking_the_app_runs_none_of_its_packages(tmp_path):
    package = tmp_path / "shop"
    package.mkdir()
    marker = tmp_path / "imported"
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write('shop\\n')\n")
    (package / "web.py").write_text("def setup(server):\n    pass\n")
    env = {"PYTHONPATH": os.pathsep.join([ROOT, str(tmp_path)])}
    proc = _run("check-config", "--app", "shop.web:setup", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = _run("check-config", "--app", "shop.nothing:setup", env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["argv:--app: no module named 'shop.nothing'"]
    proc = _run("check-config", "--app", "shop.web.deeper:setup", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("argv:--app: cannot import 'shop.web.deeper': ")
    assert not marker.exists()
