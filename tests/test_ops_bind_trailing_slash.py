"""A bind address with a path after it. ``unix:DIR/x.sock/`` passed check-config and
failed at start with the kernel's "no such file or directory" although DIR exists (a
UNIX socket's path must end with its file name: ``/``, ``/.`` and ``/..`` are no name);
it is refused at the check, saying what to write. ``fd://3/``, ``tcp://HOST:PORT/`` and a
port alone with a path (``8000/``) got no hint where ``HOST:PORT/`` got one: they get the
same "a bind takes no path" advice.

Real daemons (start and check-config) in a scratch working directory: exit status 2 and
stderr; one that starts is stopped by PID (TERM, then KILL)."""

import os

import pytest

from test_ops_bind_wildcard import prefork

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
FORMS = "expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"
COMMANDS = pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])


def run(command, bind, cwd):
    return prefork([*command, "--app-dir", APPS, "basic:setup", "--bind", bind, "--metrics-bind", "127.0.0.1:0",
                    "--workers", "1", "--access-log", "", "--timeout", "5"], cwd)


@COMMANDS
@pytest.mark.parametrize("ending", ["/", "//", "/."])
def test_a_unix_socket_path_ending_in_a_slash_is_refused_with_the_path_to_write(tmp_path, command, ending):
    path = tmp_path / "app.sock"
    status, err = run(command, f"unix:{path}{ending}", tmp_path)
    assert status == 2, err
    assert (f"argv:--bind: unix:{path}{ending}: a UNIX socket's path ends with its file name, not "
            f"{'/' + ending.strip('/')}: write unix:{path}") in err.splitlines(), err
    assert "no such file or directory" not in err, err
    assert not os.path.exists(path)


@COMMANDS
@pytest.mark.parametrize("ending", ["/", "/sub/.."])
def test_a_unix_socket_path_naming_a_directory_with_a_slash_says_to_name_the_socket_in_it(tmp_path, command,
                                                                                        ending):
    (tmp_path / "sub").mkdir()
    status, err = run(command, f"unix:{tmp_path}{ending}", tmp_path)
    assert status == 2, err
    assert (f"argv:--bind: unix:{tmp_path}{ending}: a UNIX socket's path ends with its file name, not "
            f"/{os.path.basename(ending)}: {tmp_path} is a directory, name the socket in it "
            f"(unix:{tmp_path}/NAME.sock)") in err.splitlines(), err


@COMMANDS
@pytest.mark.parametrize("typed, hint", [
    ("fd://3/", "(a bind takes no path: write fd://3, without the trailing /)"),
    ("fd://3/app", "(a bind takes no path: write fd://3, without /app)"),
    ("tcp://127.0.0.1:0/", "(a bind takes no path: write 127.0.0.1:0, without tcp:// and the trailing /)"),
    ("tcp://localhost/", "(a bind takes no path, and needs a port: write localhost:8000)"),
    ("8000/", "(a bind takes no path, and a port alone is no address: write 127.0.0.1:8000, or 0.0.0.0:8000 "
              "for every interface)"),
    ("http://8000/app", "(a bind takes no path, and a port alone is no address: write http://127.0.0.1:8000, or "
                        "http://0.0.0.0:8000 for every interface)"),
    ("::1:0/", "(a bind takes no path, and an IPv6 address is written in brackets: [::1]:0)"),
])
def test_a_descriptor_a_tcp_url_or_a_port_with_a_path_gets_the_no_path_hint(tmp_path, command, typed, hint):
    status, err = run(command, typed, tmp_path)
    assert status == 2, err
    assert f"argv:--bind: {typed}: {FORMS} {hint}" in err.splitlines(), err


@COMMANDS
@pytest.mark.parametrize("path", ["./app.sock", "run/app.sock", "app.sock", "/tmp/app.sock"])
def test_a_socket_path_written_without_unix_is_told_to_write_it(tmp_path, command, path):
    """A file's path given as a bind (``-b ./app.sock``) was read as a host with a URL's
    path and advised ``write .:8000``: it is told to write ``unix:PATH``."""
    status, err = run(command, path, tmp_path)
    assert status == 2, err
    assert f"argv:--bind: {path}: {FORMS} (a UNIX socket is written unix:PATH: unix:{path})" in err.splitlines(), err
