"""``unix://PATH``: gunicorn reads it as PATH (``unix:(//)?`` stripped), so a relative
``unix://app.sock`` is ``app.sock`` in the working directory, where nginx's
``proxy_pass http://unix:...`` is pointed. The daemon took the text after ``unix:`` as
the path, ``//app.sock``, and bound ``/app.sock`` at the filesystem root: the proxy
found no socket where gunicorn's would be. A relative ``unix://PATH`` is refused (exit
status 2) saying what to write; ``unix:///abs`` names ``/abs`` for both and stays valid.

Real daemons in a scratch working directory; a start that fails is waited for, one that
starts is stopped by PID (TERM, then KILL)."""

import os
import socket
import subprocess
import sys
import uuid

import pytest

from daemon import python_env, wait_until
from test_ops_bind_wildcard import prefork

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_relative_unix_double_slash_path_is_refused_with_gunicorns_meaning(tmp_path, command):
    name = f"prefork-test-{uuid.uuid4().hex[:12]}.sock"
    status, err = prefork([*command, "--app-dir", APPS, "basic:setup", "--bind", f"unix://{name}",
                           "--metrics-bind", "127.0.0.1:0", "--workers", "1", "--access-log", ""], tmp_path)
    try:
        assert status == 2, err
        assert (f"argv:--bind: unix://{name}: this is the path //{name} here, at the root (/), where gunicorn "
                f"reads unix://{name} as {name}: write unix:{name} for that, or unix:/{name} for the root"
                ) in err.splitlines(), err
        assert not os.path.exists(f"/{name}")
    finally:
        if os.path.exists(f"/{name}"):
            os.unlink(f"/{name}")


def test_an_absolute_unix_triple_slash_path_is_bound_where_gunicorn_binds_it(tmp_path):
    path = tmp_path / "app.sock"
    proc = subprocess.Popen([sys.executable, "-m", "prefork", "--app-dir", APPS, "basic:setup",
                             "--bind", f"unix://{path}", "--metrics-bind", "127.0.0.1:0", "--workers", "1",
                             "--access-log", ""], cwd=tmp_path, env=python_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: path.is_socket() or proc.poll() is not None, 20, what="the socket bound")
        assert proc.poll() is None, proc.stderr.read()
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
    finally:
        proc.kill()
        proc.wait(10)
        proc.stderr.close()


@pytest.mark.parametrize("bind", ["unix://", "unix:/", "unix:///"])
@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_unix_bind_with_no_path_is_refused_as_naming_no_socket(tmp_path, command, bind):
    status, err = prefork([*command, "--app-dir", APPS, "basic:setup", "--bind", bind,
                           "--metrics-bind", "127.0.0.1:0", "--workers", "1", "--access-log", ""], tmp_path)
    assert status == 2, err
    assert (f"argv:--bind: {bind}: no socket path after unix: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"
            in err.splitlines()), err
