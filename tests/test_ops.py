"""Operations defects, each on a real daemon (``python -m prefork``):

- the pidfile setting replaced whatever was at its path: a config file (then deleted at
  exit), a character device (``/dev/null`` became a regular file), and a FIFO hung the
  master in ``open()`` with its signals blocked. Only a pidfile (a regular file holding
  a PID, or empty) is replaced now; anything else is ``SOURCE:pidfile: ...`` and exit 2;
- a socket handed over by systemd that does not listen (``Accept=yes``'s connection, a
  ``ListenDatagram=`` socket) made the worker spin at full CPU, logging a traceback per
  turn; it is now refused at start, as an ``fd://N`` that does not listen is.
"""

import os
import socket
import stat
import subprocess
import sys

import pytest

from daemon import python_env


def prefork(*args, cwd, preexec_fn=None, env=None, timeout=30):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env or python_env(), stdin=subprocess.DEVNULL,
                          preexec_fn=preexec_fn, close_fds=preexec_fn is None)


@pytest.mark.parametrize("kind", ["config", "fifo", "device", "null", "directory"])
def test_a_pidfile_path_that_holds_something_else_is_refused_and_left_alone(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "config":
        target.write_text("workers = 1\n")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind in ("device", "null"):
        os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3 if kind == "null" else 5))  # a null or zero device
    else:
        target.mkdir()
    before = os.stat(target)
    for command in ([], ["check-config"]):
        out = prefork(*command, "--bind", "127.0.0.1:0", "--metrics-bind", "", "--pidfile", str(target),
                      cwd=tmp_path)
        assert out.returncode == 2, out
        reason = {"config": " holds something other than a PID (not replaced by a pidfile)",
                  "null": " is the null device, where no pidfile is kept (for none, leave pidfile empty: the default)",
                  "directory": ": cannot write: is a directory"}.get(kind, " is not a regular file (not replaced "
                                                                           "by a pidfile)")
        assert out.stderr.strip().splitlines()[-1] == f"argv:--pidfile: {target}{reason}"
        after = os.stat(target)
        assert (after.st_mode, after.st_ino, after.st_size) == (before.st_mode, before.st_ino, before.st_size)
    if kind == "config":
        assert target.read_text() == "workers = 1\n"


def test_a_stale_pidfile_is_still_replaced(tmp_path):
    """A pidfile naming a process that is gone is replaced (and the empty file an
    interrupted writer may leave)."""
    for text in ("999999\n", ""):
        target = tmp_path / "p.pid"
        target.write_text(text)
        out = prefork("check-config", "--bind", "127.0.0.1:0", "--metrics-bind", "", "--pidfile", str(target),
                      cwd=tmp_path)
        assert out.returncode == 0, out


def activated(sock, tmp_path):
    """The daemon started as systemd starts it, with ``sock`` as its one passed socket (fd 3)."""
    def child():
        os.dup2(sock.fileno(), 3)
    script = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -m prefork --workers 1 --metrics-bind ""'
    return subprocess.run(["sh", "-c", script, sys.executable], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path, env=python_env(), stdin=subprocess.DEVNULL, preexec_fn=child,
                          close_fds=False)


def test_a_passed_connection_is_refused_at_start(tmp_path):
    """``Accept=yes`` passes one accepted connection: not a listener."""
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    try:
        out = activated(conn, tmp_path)
        assert out.returncode == 2, out
        assert out.stderr.strip().splitlines()[-1] == (
            "default:bind: systemd:unknown: the socket is not listening (whoever hands it over must call listen() "
            "on it first); a unit with Accept=yes passes one connection, not a listener: use Accept=no")
    finally:
        for sock in (conn, client, server):
            sock.close()


def test_a_passed_datagram_socket_is_refused_at_start(tmp_path):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        out = activated(udp, tmp_path)
        assert out.returncode == 2, out
        assert out.stderr.strip().splitlines()[-1] == (
            "default:bind: systemd:unknown: not a stream socket (TCP or UNIX): nothing can be accepted on it; "
            "use ListenStream= in the socket unit")
    finally:
        udp.close()


def test_a_probe_gets_in_past_connections_its_own_address_holds(daemons):
    """On the default loopback ``metrics_bind`` every local client is 127.0.0.1: 64
    connections held by one of them (silent, then each trickling a head) kept a probe
    from 127.0.0.1 (a Docker HEALTHCHECK, a local agent) out until they closed. Room is
    made from the same address now: the silent one silent longest, else the one held
    longest."""
    from test_ops_endpoints import LIMIT, accepted, close, closed_count, hold, master_fds, probe
    from daemon import wait_until

    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    base = master_fds(d.pid)
    held = hold(port, LIMIT, source="127.0.0.1")
    try:
        accepted(d, base + LIMIT)
        wait_until(lambda: probe(port, source="127.0.0.1").startswith(b"HTTP/1.1 200 OK"), 5,
                   what="a probe from the same address answered")
        assert closed_count(held) == 1
        live = [sock for sock in held if sock.fileno() >= 0]
        for sock in live:  # every one moving now: none silent
            sock.setblocking(True)
            try:
                sock.sendall(b"GET /h")
            except OSError:
                pass
        assert probe(port, source="127.0.0.1").startswith(b"HTTP/1.1 200 OK")
    finally:
        close(held)


def test_healthz_fails_while_every_worker_crash_loops_and_recovers(daemons, tmp_path):
    """The app stops importing after the daemon is up: every respawn dies at boot and the
    master retries for ever (with backoff). /healthz said "ok: 0 workers" all along;
    it is 503 once every slot has died young 5 times in a row, and 200 again once a
    worker serves."""
    import signal
    import urllib.error
    import urllib.request
    from daemon import wait_until

    flag = tmp_path / "fail"
    d = daemons(app="apps.flaky:setup", workers=1, env={"FLAKY_FLAG": str(flag)})
    d.wait_ready()
    port = d.metrics_port()

    def healthz():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
    assert healthz()[0] == 200
    flag.write_text("")
    worker, = d.workers()
    os.kill(worker, signal.SIGKILL)
    status, text = wait_until(lambda: (lambda got: got if got[0] == 503 else None)(healthz()), 20,
                              what="/healthz to fail")
    assert text.startswith("crash loop: no worker serving"), text
    flag.unlink()
    wait_until(lambda: healthz()[0] == 200, 30, what="/healthz to recover")


@pytest.mark.parametrize("line, problem", [
    ("unix_socket_mode = 777", 'unix_socket_mode: expected a mode from 0o000 to 0o777, got 777 (= 0o1411; an '
                               'integer is decimal in TOML: write 0o777 or "0o777")'),
    ('unix_socket_mode = "0o7777"', "unix_socket_mode: expected a mode from 0o000 to 0o777, got '0o7777'"),
    ("unix_socket_mode = 0o660", None),
])
def test_a_mode_out_of_range_is_shown_as_written(tmp_path, line, problem):
    """A mode the operator wrote as a string was shown in decimal ('0o7777': got 4095), and
    a TOML integer without a hint that it is read as decimal."""
    from prefork import settings
    config = tmp_path / "c.toml"
    config.write_text(line + "\n")
    try:
        settings.load(str(config), env={}, argv_values={})
        problems = []
    except settings.ConfigError as exc:
        problems = exc.problems
    assert problems == ([f"{config}:{problem}"] if problem else [])


def test_two_binds_of_one_port_name_each_other():
    """``-b 0.0.0.0:P -b 127.0.0.1:P``: the second cannot be bound because of the first,
    and the message says so (it said only "address already in use", as if another
    process held it)."""
    from prefork.master import listeners
    for _ in range(20):  # (the port is learnt from a socket closed just before: retried if taken meanwhile)
        probe = socket.socket()
        probe.bind(("0.0.0.0", 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            listeners.open_listeners([f"0.0.0.0:{port}", f"127.0.0.1:{port}"], 16, env={})
        except listeners.ListenError as exc:
            if exc.failures[0][0] == f"0.0.0.0:{port}":
                continue  # taken by someone else meanwhile
            assert exc.failures == [(f"127.0.0.1:{port}",
                                     f"address already in use (by 0.0.0.0:{port}, also in this list)")]
            return
        raise AssertionError("both were bound")
    raise AssertionError("the ports were taken by other processes at each of 20 tries")


def test_an_ipv4_mapped_bind_is_a_config_error():
    """``[::ffff:127.0.0.1]:0`` passed check-config and failed at start with "invalid
    argument" (the kernel refuses to bind a mapped address)."""
    from prefork import settings
    with pytest.raises(settings.ConfigError) as info:
        settings.load(env={}, argv_values={"bind": ["[::ffff:127.0.0.1]:0"]})
    assert info.value.problems == ["argv:--bind: [::ffff:127.0.0.1]:0: an IPv4-mapped address cannot be bound: "
                                   "write 127.0.0.1:0"]


def test_a_scoped_ipv6_address_and_an_ipv6_only_name_are_bound():
    """``[fe80::1%lo]``-style scoped addresses were refused as "expected HOST:PORT", and a
    host name with only an IPv6 address could not be bound. Real binds: ``[::1%lo]:0``
    (a zone on loopback) and a name /etc/hosts gives ::1 alone, when there is one."""
    from prefork import settings
    from prefork.master import listeners
    names = []
    with open("/etc/hosts") as fh:
        for line in fh:
            fields = line.split("#")[0].split()
            if fields and fields[0] == "::1":
                names += [name for name in fields[1:]
                          if not any(info[0] == socket.AF_INET for info in socket.getaddrinfo(name, 0))]
    addresses = ["[::1%lo]:0"] + [f"{name}:0" for name in names[:1]]
    settings.load(env={}, argv_values={"bind": addresses, "metrics_bind": ""})  # no problem
    opened = listeners.open_listeners(addresses, 16, env={})
    try:
        assert [sock.family for _, sock in opened] == [socket.AF_INET6] * len(addresses)
        for _, sock in opened:
            assert sock.getsockname()[0].startswith("::1")
    finally:
        for _, sock in opened:
            sock.close()
    with pytest.raises(settings.ConfigError) as info:
        settings.load(env={}, argv_values={"bind": ["[fe80::1%nosuchif0]:0"]})
    assert info.value.problems == ["argv:--bind: [fe80::1%nosuchif0]:0: nosuchif0 names no network interface of "
                                   "this host"]


def test_every_setting_shows_its_default_in_help():
    """README: every setting is in ``prefork --help`` with its default; 14 with an empty or
    false default showed none."""
    from prefork import cli, settings
    missing = [s.name for s in settings.SETTINGS if "(default: " not in cli.help_text(s)]
    assert missing == []
    out = prefork("--help", cwd="/")
    assert "--reload" in out.stdout and out.stdout.count("(default:") >= len(settings.SETTINGS) - 1


def test_a_passed_descriptor_that_is_no_socket_is_refused_at_start(tmp_path):
    """systemd passing a file (or a FIFO): a traceback and status 1; now one line and 2."""
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    with open(tmp_path / "plain.txt", "rb") as fh:
        out = activated(fh, tmp_path)
    assert out.returncode == 2, out
    assert out.stderr.strip().splitlines()[-1] == ("default:bind: systemd:unknown: descriptor 3 is not a socket "
                                                   "(a file, a pipe or a FIFO was passed)")


def test_a_bind_held_by_another_process_blames_no_address_of_the_list():
    """Another process holds [::1]:P; the list is 127.0.0.1:P and [::1]:P: IPv4 and IPv6
    loopback do not conflict, so the refusal names no address of the list."""
    from prefork.master import listeners
    for _ in range(20):  # a port whose 127.0.0.1 another process holds (of the suite's) is tried again
        other = socket.socket(socket.AF_INET6)
        other.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        other.bind(("::1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        try:
            with pytest.raises(listeners.ListenError) as info:
                listeners.open_listeners([f"127.0.0.1:{port}", f"[::1]:{port}"], 16, env={})
        finally:
            other.close()
        if info.value.failures[0][0] != f"127.0.0.1:{port}":
            break
    assert info.value.failures == [(f"[::1]:{port}", "address already in use")]


@pytest.mark.parametrize("first, second", [("127.0.0.1:{p}", "localhost:{p}"), ("[::1]:{p}", "[0:0::1]:{p}")])
def test_two_spellings_of_one_bind_name_each_other(first, second):
    """The same address written twice another way (a name, an IPv6 address spelt
    longer): the second refusal names the first."""
    from prefork.master import listeners
    family = socket.AF_INET6 if first.startswith("[") else socket.AF_INET
    for _ in range(20):
        probe = socket.socket(family)
        probe.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        a, b = first.format(p=port), second.format(p=port)
        try:
            listeners.open_listeners([a, b], 16, env={})
        except listeners.ListenError as exc:
            if exc.failures[0][0] == a:
                continue
            assert exc.failures == [(b, f"address already in use (by {a}, also in this list)")]
            return
        raise AssertionError("both were bound")
    raise AssertionError("the ports were taken by other processes at each of 20 tries")
