"""A ``unix:`` bind with a ``forwarded_allow_ips`` that leaves out UNIX-socket peers (a
gunicorn user's ``--forwarded-allow-ips 10.0.0.1`` behind nginx on the same host, which
gunicorn trusts whatever the list says) silently ignored the proxy's
``X-Forwarded-Proto``: every link came out ``http``. The worker and ``--check-config``
now warn of it; the default list, ``unix`` or ``*`` in it, or a TCP bind, say nothing."""

import subprocess
import sys

import pytest

from daemon import python_env

WARNING = ("the UNIX socket's peers are not among them, so their X-Forwarded-For and X-Forwarded-Proto are "
           "ignored (gunicorn trusts any UNIX-socket peer): add 'unix' to trust a proxy on this host")


def check(tmp_path, *args):
    (tmp_path / "wsgi_app.py").write_text("def app(environ, start_response):\n"
                                          "    start_response('200 OK', [])\n    return [b'x']\n")
    return subprocess.run([sys.executable, "-m", "prefork", "--check-config", *args, "wsgi_app:app"], cwd=tmp_path,
                          env=python_env(), capture_output=True, text=True, timeout=60)


def test_a_unix_bind_whose_peers_are_not_trusted_is_warned_of(tmp_path):
    run = check(tmp_path, "--bind", f"unix:{tmp_path}/app.sock", "--forwarded-allow-ips", "10.0.0.1")
    assert run.returncode == 0, run.stderr
    assert f"warning: argv:--forwarded-allow-ips: {WARNING}" in run.stderr.splitlines(), run.stderr


@pytest.mark.parametrize("args", [("--forwarded-allow-ips", "10.0.0.1,unix"), ("--forwarded-allow-ips", "*"), ()])
def test_no_warning_when_unix_peers_are_trusted(tmp_path, args):
    run = check(tmp_path, "--bind", f"unix:{tmp_path}/app.sock", *args)
    assert run.returncode == 0 and "UNIX socket's peers" not in run.stderr, run.stderr


def test_no_warning_on_a_tcp_bind(tmp_path):
    run = check(tmp_path, "--bind", "127.0.0.1:0", "--forwarded-allow-ips", "10.0.0.1")
    assert run.returncode == 0 and "UNIX socket's peers" not in run.stderr, run.stderr


def test_a_unix_socket_handed_over_as_fd_is_warned_of_too(tmp_path):
    import socket as socket_module
    listener = socket_module.socket(socket_module.AF_UNIX)
    listener.bind(str(tmp_path / "handed.sock"))
    listener.listen(8)
    try:
        (tmp_path / "wsgi_app.py").write_text("def app(environ, start_response):\n"
                                              "    start_response('200 OK', [])\n    return [b'x']\n")
        run = subprocess.run([sys.executable, "-m", "prefork", "--check-config", "--bind", f"fd://{listener.fileno()}",
                              "--forwarded-allow-ips", "10.0.0.1", "wsgi_app:app"], cwd=tmp_path, env=python_env(),
                             capture_output=True, text=True, timeout=60, pass_fds=(listener.fileno(),))
    finally:
        listener.close()
    assert run.returncode == 0, run.stderr
    assert f"warning: argv:--forwarded-allow-ips: {WARNING}" in run.stderr.splitlines(), run.stderr
