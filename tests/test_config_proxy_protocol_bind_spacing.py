"""A ``proxy_protocol_bind`` entry is written as a ``bind`` entry and is told what is
wrong with its spelling in the same words: white space around it shown quoted, with
the address to write (unquoted, ``'127.0.0.1:0 '`` read as `` 127.0.0.1:0 is not one of
the bind addresses``, its space unseen), and several addresses in one entry told how to
list them where they were given. Status 2, one ``SOURCE:KEY: what is wrong`` line."""

import subprocess
import sys

import pytest

from daemon import python_env


def check(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], capture_output=True, text=True,
                          timeout=30, env={**python_env(), **(env or {})}, cwd=tmp_path, stdin=subprocess.DEVNULL)


def refused(tmp_path, *args, env=None):
    """check-config's problem lines, once it refused the settings (status 2)."""
    proc = check(tmp_path, *args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    return proc.stderr.splitlines()


@pytest.mark.parametrize("typed", ["127.0.0.1:0 ", " 127.0.0.1:0", "\t[::1]:0", "fd://3 "])
def test_white_space_around_an_entry_is_shown_quoted_as_binds_is(tmp_path, typed):
    said = f"{typed!r}: white space around the address: write {typed.strip()!r}"
    assert refused(tmp_path, "-b", typed) == [f"argv:--bind: {said}"]
    assert refused(tmp_path, "-b", typed.strip(), "--proxy-protocol-bind", typed) == [
        f"argv:--proxy-protocol-bind: {said}"]


def test_the_file_and_the_variable_are_answered_alike(tmp_path):
    (tmp_path / "prefork.toml").write_text('bind = ["127.0.0.1:0"]\nproxy_protocol_bind = [" 127.0.0.1:0"]\n')
    assert refused(tmp_path, "-c", "prefork.toml") == [
        "prefork.toml:proxy_protocol_bind: ' 127.0.0.1:0': white space around the address: write '127.0.0.1:0'"]
    assert refused(tmp_path, "-b", "127.0.0.1:0", "-b", "[::1]:0",
                   env={"PREFORK_PROXY_PROTOCOL_BIND": "127.0.0.1:0 [::1]:0"}) == [
        "env:PREFORK_PROXY_PROTOCOL_BIND: 127.0.0.1:0 [::1]:0: 2 addresses written as one entry, which takes one "
        "(PREFORK_PROXY_PROTOCOL_BIND takes them comma-separated: PREFORK_PROXY_PROTOCOL_BIND=127.0.0.1:0,[::1]:0)"]


def test_names_and_unix_paths_are_taken_as_they_match_bind(tmp_path):
    sock = tmp_path / "a b.sock "  # (a UNIX socket's file name may end in a space)
    proc = check(tmp_path, "-b", "127.0.0.1:0", "-b", f"unix:{sock}", "--proxy-protocol-bind", f"unix:{sock}",
                 "--proxy-protocol-bind", "systemd:web")
    assert proc.returncode == 0, proc.stderr
    assert f'proxy_protocol_bind = ["unix:{sock}", "systemd:web"]  # argv:--proxy-protocol-bind' in \
        proc.stdout.splitlines(), proc.stdout


@pytest.mark.parametrize("typed", ["unix:{sock} ", "unix: {sock}", "unix:\t{sock}\t"])
def test_a_unix_entry_bound_but_for_its_white_space_is_shown_quoted(tmp_path, typed):
    sock = tmp_path / "x.sock"
    typed = typed.format(sock=sock)
    proc = check(tmp_path, "-b", f"unix:{sock}", "--proxy-protocol-bind", typed)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"argv:--proxy-protocol-bind: {typed!r} is not one of the bind addresses "
        f"(white space around the address: write {'unix:' + str(sock)!r}, which is bound)"], proc.stderr


def test_a_unix_entry_with_white_space_bound_by_no_listener_is_shown_quoted(tmp_path):
    proc = check(tmp_path, "-b", f"unix:{tmp_path / 'x.sock'}", "--proxy-protocol-bind", f"unix:{tmp_path / 'y.sock'} ")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"argv:--proxy-protocol-bind: 'unix:{tmp_path / 'y.sock'} ' is not one of the bind addresses"], proc.stderr
