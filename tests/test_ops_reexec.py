"""USR2 with a configuration whose new listen address cannot be opened: the re-exec is
refused and the running daemon goes on (the new program would have exited with status
2 and taken the daemon down). The sockets handed across the exec keep their names,
whatever characters a UNIX path holds. Real daemons, real signals; every process is
killed by PID at the end."""

import os
import re
import shutil
import signal
import socket
import tempfile

from daemon import ConfigDaemon, alive, children
from harness import read_until_close
from prefork.master import listeners


def get(port, path="/"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


def test_usr2_to_new_addresses_in_use_is_refused_and_the_daemon_serves_on(tmp_path):
    busy, busy_too = socket.socket(), socket.socket()
    for sock in (busy, busy_too):
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
    port, other = busy.getsockname()[1], busy_too.getsockname()[1]
    config = tmp_path / "prefork.toml"
    config.write_text('bind = ["127.0.0.1:0"]\nmetrics_bind = "127.0.0.1:0"\nworkers = 1\n')
    try:
        with ConfigDaemon(tmp_path, config, timeout=15) as d:
            d.wait_log(r"workers ready")
            app_port = int(re.search(r"listening at 127\.0\.0\.1:(\d+)", d.log()).group(1))
            workers = d.note_workers()
            config.write_text(f'bind = ["127.0.0.1:{port}"]\nmetrics_bind = "127.0.0.1:{other}"\nworkers = 1\n')
            d.proc.send_signal(signal.SIGUSR2)
            d.wait_log(r"USR2 refused: the new program's check-config exited with status 2")
            assert f"USR2: {config}:bind: 127.0.0.1:{port}: address already in use" in d.log()
            assert f"USR2: {config}:metrics_bind: 127.0.0.1:{other}: address already in use" in d.log()
            assert "USR2: re-executing" not in d.log()
            assert alive(d.proc.pid) and children(d.proc.pid) == workers
            assert b"200 OK" in get(app_port)
            # a new address that can be opened is tried and let go: the new program binds it
            config.write_text(f'bind = ["127.0.0.1:0", "unix:{tmp_path}/app.sock"]\nmetrics_bind = "127.0.0.1:0"\n'
                              'workers = 1\n')
            d.proc.send_signal(signal.SIGUSR2)
            d.wait_log(r"USR2: re-executing the master")
            d.wait_log(r"workers ready", count=2)
            d.note_workers()
            unix = socket.socket(socket.AF_UNIX)
            unix.connect(str(tmp_path / "app.sock"))
            unix.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_close(unix).startswith(b"HTTP/1.1 200 OK")
            unix.close()
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(20) == 0
    finally:
        busy.close()
        busy_too.close()


def test_a_unix_path_with_separators_survives_usr2(daemons):
    """The listeners handed across a USR2 exec are named in JSON, so a UNIX socket path
    holding ``;`` or ``=`` (the old ``KEY=FD;...`` list's separators) is inherited as
    itself; the new master kept its PID and serves on the same path."""
    directory = tempfile.mkdtemp(prefix="pf-", dir="/tmp")
    path = os.path.join(directory, "a;b=c.sock")
    d = daemons("--bind", f"unix:{path}", workers=1)
    try:
        d.wait_ready()
        before = d.wait_workers(1)
        assert unix_get(path).startswith(b"HTTP/1.1 200 OK")
        d.signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2, timeout=15)
        d.wait_workers(1, timeout=15, exclude=before)
        assert "cannot" not in d.log().split("USR2: re-executing", 1)[1]
        assert unix_get(path).startswith(b"HTTP/1.1 200 OK")
        assert alive(d.pid) and d.request().startswith(b"HTTP/1.1 200 OK")
    finally:
        d.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def unix_get(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    try:
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


def test_the_older_hand_over_list_is_still_read():
    """A master of an earlier version names its sockets ``KEY=FD;...``: a USR2 that
    upgrades to this version still inherits them."""
    first, second = socket.socket(), socket.socket()
    try:
        env = {listeners.INHERIT_ENV: f"127.0.0.1:0={first.fileno()};metrics:127.0.0.1:0={second.fileno()}"}
        got = listeners.inherited(env)
        assert [key for key, _ in got] == ["127.0.0.1:0", "metrics:127.0.0.1:0"]
        assert [sock.fileno() for _, sock in got] == [first.fileno(), second.fileno()]
        for _, sock in got:
            sock.detach()  # the same descriptors as first and second: closed once, below
        assert env == {}
    finally:
        first.close()
        second.close()
