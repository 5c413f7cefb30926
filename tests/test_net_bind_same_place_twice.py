"""One listening place written twice in ``bind``: a UNIX socket path in two spellings
(``unix:x.sock`` and ``unix:./x.sock``, ``..`` in it, a linked directory) or a link-local
address with its zone by name and by index. check-config passed them and the start
failed, for the UNIX path with "a running server listens on this socket" (its own
listener, bound a moment before). Both now refuse it as the same address twice, naming
the other entry, as they do for ``0.0.0.0:8000`` beside ``:8000``.

Real check-config runs and daemons, and the master's own open_listeners with real
sockets; every process is waited for, killed by PID if it outlives its check."""

import os
import subprocess
import sys

import pytest

from daemon import python_env
from prefork.master import listeners

COMMON = ["--workers", "1", "--metrics-bind", "", "--access-log", "", "--app", "tests.apps.basic"]


def prefork(args, cwd):
    """The exit status and stderr of ``prefork ARGS``; one that keeps running is killed."""
    proc = subprocess.Popen([sys.executable, "-m", "prefork", *args], cwd=cwd, env=python_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return None, err
    return proc.returncode, err


def spellings(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    return [("unix:x.sock", "unix:./x.sock"),
            (f"unix:{tmp_path}/y.sock", f"unix:{tmp_path}/real/../y.sock"),
            ("unix:real/z.sock", "unix:linked/z.sock")]


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_one_unix_socket_path_written_twice_is_refused_as_listed_twice(tmp_path, command):
    for first, second in spellings(tmp_path):
        status, err = prefork([*command, "--bind", first, "--bind", second, *COMMON], tmp_path)
        assert status == 2, err
        assert f"argv:--bind: {second}: address already in use (by {first}, also in this list)" in err.splitlines(), err
        assert "a running server" not in err, err
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".sock")]


def test_the_master_names_its_own_unix_listener_when_a_path_comes_again(tmp_path):
    first, second = f"unix:{tmp_path}/y.sock", f"unix:{tmp_path}/./y.sock"
    with pytest.raises(listeners.ListenError) as caught:
        listeners.open_listeners([first, second], 16, env={})
    assert caught.value.failures == [(second, f"address already in use (by {first}, also in this list)")]
    assert not (tmp_path / "y.sock").exists()


def test_a_link_local_zone_by_name_and_by_index_is_one_address_to_check_config(tmp_path):
    with open("/proc/net/if_inet6") as table:
        found = [line.split() for line in table if line.startswith("fe80")]
    assert found, "this test needs a link-local IPv6 address on the host (/proc/net/if_inet6)"
    hexa, index, *_, name = found[0]
    address = ":".join(hexa[i:i + 4] for i in range(0, 32, 4))
    by_name, by_index = f"[{address}%{name}]:18173", f"[{address}%{int(index, 16)}]:18173"
    status, err = prefork(["check-config", "--bind", by_name, "--bind", by_index, *COMMON], tmp_path)
    assert status == 2, err
    assert f"argv:--bind: {by_index}: address already in use (by {by_name}, also in this list)" in err, err
