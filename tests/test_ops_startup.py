"""Starting the daemon on what an operator hands it: ``fd://N`` sockets that cannot be
served on are a configuration problem (status 2, one ``SOURCE:KEY: ADDRESS: what is
wrong`` line, nothing logged before it); every process is killed by PID at the end."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from daemon import children, kill_all, python_env, wait_until


def start_on(sock, *args):
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", "--bind",
                             f"fd://{sock.fileno()}", *args], pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=python_env(), text=True)
    try:
        output, _ = proc.communicate(timeout=10)
    finally:
        kill_all(proc, ())
    return proc.returncode, output


def bound_only():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.mark.parametrize("make, problem", [
    (bound_only, "the socket is not listening (whoever hands it over must call listen() on it first)"),
    (socket.socket, "the socket is not listening (whoever hands it over must call listen() on it first)"),
    (lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
     "not a stream socket (TCP or UNIX): nothing can be accepted on it"),
])
def test_an_fd_that_is_not_a_listening_stream_socket_is_a_config_error(make, problem):
    sock = make()
    fd = sock.fileno()
    try:
        code, output = start_on(sock, "--metrics-bind", "127.0.0.1:0")
    finally:
        sock.close()
    assert code == 2, output
    assert output == f"argv:--bind: fd://{fd}: {problem}\n"


def test_a_listening_fd_is_served_and_the_metrics_line_follows_the_listeners():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", "--bind",
                             f"fd://{sock.fileno()}", "--metrics-bind", "127.0.0.1:0"], pass_fds=(sock.fileno(),),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=python_env(), text=True)
    try:
        lines = []
        while not any("workers ready" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        assert text.index("listening at") < text.index("metrics at http://127.0.0.1:")
        client = socket.create_connection(sock.getsockname(), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert client.recv(100).startswith(b"HTTP/1.1 200 OK")
        client.close()
    finally:
        sock.close()
        kill_all(proc, ())
        proc.stdout.close()


def test_a_bind_that_fails_is_the_only_output_even_with_metrics_on():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        proc = subprocess.run([sys.executable, "-m", "prefork", "apps.basic:setup", "--bind", f"127.0.0.1:{port}",
                               "--metrics-bind", "127.0.0.1:0"], capture_output=True, text=True, timeout=10,
                              env=python_env(), stdin=subprocess.DEVNULL)
    finally:
        taken.close()
    assert proc.returncode == 2
    assert proc.stdout + proc.stderr == f"argv:--bind: 127.0.0.1:{port}: address already in use\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="drops privileges to nobody: needs root")
@pytest.mark.parametrize("flag, words", [("--app-dir", "app_dir {}: cannot read it"),
                                         ("--chdir", "chdir {}: cannot enter it")])
def test_an_app_directory_the_workers_user_cannot_read_is_named_in_one_line(tmp_path, flag, words):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "privapp.py").write_text("def setup(server):\n    server.on('request', lambda req, res: res.end())\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "privapp:setup", flag, str(private), "--user", "nobody",
                           "--workers", "1", "--bind", "127.0.0.1:0", "--metrics-bind", ""], capture_output=True,
                          text=True, timeout=20, env=python_env(), stdin=subprocess.DEVNULL)
    uid = pwd.getpwnam("nobody").pw_uid
    line = words.format(private) + f" as user nobody (uid {uid}): permission denied"
    assert proc.returncode == 3, proc.stderr
    assert f"ERROR prefork.worker: worker 0: {line}\n" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "No module named" not in proc.stderr, proc.stderr


def test_a_pidfile_that_cannot_be_put_in_place_leaves_no_temporary_file(tmp_path):
    (tmp_path / "p.pid").mkdir()  # a directory in the pidfile's place
    proc = subprocess.run([sys.executable, "-m", "prefork", "apps.basic:setup", "--bind", "127.0.0.1:0",
                           "--metrics-bind", "", "--pidfile", str(tmp_path / "p.pid"), "--workers", "1"],
                          capture_output=True, text=True, timeout=20, env=python_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"argv:--pidfile: {tmp_path}/p.pid: cannot write: is a directory\n"
    assert os.listdir(tmp_path) == ["p.pid"]


def test_an_app_that_fails_at_import_has_its_traceback_logged_once(tmp_path):
    (tmp_path / "failing.py").write_text("import os\n\nraise RuntimeError('missing DATABASE_URL')\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "failing:setup", "--app-dir", str(tmp_path), "--workers",
                           "1", "--bind", "127.0.0.1:0", "--metrics-bind", ""], capture_output=True, text=True,
                          timeout=20, env=python_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("raise RuntimeError('missing DATABASE_URL')") == 1, proc.stderr
    assert proc.stderr.count("Traceback (most recent call last)") == 1, proc.stderr
    assert "failed to boot (exit status 3); stopping:\nRuntimeError: missing DATABASE_URL\n" in proc.stderr


@pytest.mark.parametrize("extra, ok", [(0, True), (1, False)])
def test_a_unix_socket_path_longer_than_sun_path_is_refused_by_check_config(tmp_path, extra, ok):
    base = f"{tmp_path}/"
    path = base + "s" * (107 - len(base) + extra)  # 107 bytes fit, 108 do not
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "apps.basic:setup", "--bind", f"unix:{path}",
                           "--metrics-bind", ""], capture_output=True, text=True, timeout=20, env=python_env(),
                          stdin=subprocess.DEVNULL)
    if ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 2
        assert proc.stderr == (f"argv:--bind: unix:{path}: the path is 108 bytes long; a UNIX socket's may be at "
                               f"most 107 (sun_path in unix(7))\n")


def test_check_config_after_the_options_checks_instead_of_being_taken_for_the_app(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("workers = 3\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "-c", str(config), "--bind", "127.0.0.1:0",
                           "check-config"], capture_output=True, text=True, timeout=20, env=python_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert f"workers = 3  # {config}:workers" in proc.stdout.splitlines()
    config.write_text("workers = 0\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "-c", str(config), "check-config"], capture_output=True,
                          text=True, timeout=20, env=python_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr == f"{config}:workers: must be at least 1, got 0\n"


def as_nobody():
    """The command prefix that runs a process as nobody, still able to read this checkout
    and interpreter wherever they are (CAP_DAC_READ_SEARCH), or None."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    uid = pwd.getpwnam("nobody").pw_uid
    return ["setpriv", f"--reuid={uid}", f"--regid={pwd.getpwnam('nobody').pw_gid}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


@pytest.mark.skipif(as_nobody() is None, reason="needs root and setpriv to start prefork as nobody")
def test_a_master_not_started_as_root_is_refused_another_user_for_its_workers(tmp_path):
    prefix = as_nobody()
    uid = pwd.getpwnam("nobody").pw_uid
    proc = subprocess.run(prefix + [sys.executable, "-m", "prefork", "apps.basic:setup", "--user", "daemon",
                                    "--workers", "1", "--bind", "127.0.0.1:0", "--metrics-bind", ""],
                          capture_output=True, text=True, timeout=20, env=python_env(), stdin=subprocess.DEVNULL,
                          cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"argv:--user: daemon: the workers can run as another user only when prefork starts as "
                           f"root (it runs as uid {uid})\n")
    proc = subprocess.run(prefix + [sys.executable, "-m", "prefork", "check-config", "apps.basic:setup", "--user",
                                    "nobody"], capture_output=True, text=True, timeout=20, env=python_env(),
                          stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # its own user is no switch


def test_a_daemon_started_with_its_standard_descriptors_closed_serves(tmp_path):
    """Some supervisors start a daemon with 0, 1 and 2 closed."""
    log_path = tmp_path / "error.log"

    def close_stdio():
        for fd in (0, 1, 2):
            os.close(fd)
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", "--bind",
                             "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0", "--error-log", str(log_path)],
                            env=python_env(), cwd=tmp_path, preexec_fn=close_stdio)
    seen = {proc.pid}
    try:
        wait_until(lambda: log_path.exists() and ("workers ready" in log_path.read_text()
                                                  or proc.poll() is not None), 15, what="the daemon ready")
        log = log_path.read_text()
        assert "workers ready" in log, log
        seen.update(children(proc.pid))
        port = int(re.search(r"listening at 127\.0\.0\.1:(\d+)", log).group(1))
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert client.recv(100).startswith(b"HTTP/1.1 200 OK")
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        kill_all(proc, seen)


def wchan(pid):
    try:
        with open(f"/proc/{pid}/wchan") as fh:
            return fh.read()
    except OSError:
        return ""


def test_of_two_masters_past_the_pidfile_check_at_once_the_second_refuses_to_start(daemons, tmp_path):
    """B checks the pidfile (none); A starts meanwhile and writes it; B's write then
    finds A's and refuses (the check and the write of a starting master, in order)."""
    from prefork.master import pidfile
    pid_path = tmp_path / "prefork.pid"
    assert pidfile.holder(str(pid_path)) is None  # B's check
    a = daemons("--pidfile", str(pid_path), workers=1)
    a.wait_ready()
    with pytest.raises(pidfile.AlreadyRunning) as refused:  # B's write
        pidfile.write(str(pid_path))
    assert refused.value.pid == a.pid
    assert pid_path.read_text() == f"{a.pid}\n"


def test_a_unix_socket_whose_server_has_a_full_backlog_is_live(tmp_path):
    """A socket file whose server does not accept fast enough is a running server's, not a
    stale one: the start is refused at once (it waited in connect, then took the file)."""
    sock_path = tmp_path / "b.sock"
    live = socket.socket(socket.AF_UNIX)
    live.bind(str(sock_path))
    live.listen(0)
    fillers = []
    try:
        for _ in range(3):  # a backlog of 0 takes one connection (or two): then a connect waits
            filler = socket.socket(socket.AF_UNIX)
            filler.setblocking(False)
            try:
                filler.connect(str(sock_path))
            except BlockingIOError:
                pass
            fillers.append(filler)
        out = subprocess.run([sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", "--bind",
                              f"unix:{sock_path}", "--metrics-bind", ""], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, env=python_env(), cwd=tmp_path, timeout=20)
        assert out.returncode == 2, out.stderr
        assert out.stderr == f"argv:--bind: unix:{sock_path}: a running server listens on this socket\n"
        assert sock_path.exists()
    finally:
        for filler in fillers:
            filler.close()
        live.close()


def test_an_app_with_a_syntax_error_is_said_with_its_file_and_line(tmp_path):
    (tmp_path / "broken.py").write_text("import os\n\ndef setup(server:\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "broken:setup", "--app-dir", str(tmp_path), "--workers",
                           "1", "--bind", "127.0.0.1:0", "--metrics-bind", ""], capture_output=True, text=True,
                          timeout=20, env=python_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 3, proc.stderr
    summary = proc.stderr.split("failed to boot (exit status 3); stopping:\n", 1)[1].splitlines()[0]
    assert summary.startswith("SyntaxError: ") and f"({tmp_path}/broken.py, line 3)" in summary, summary
