"""Bad values that used to end in a traceback: a NUL character in any text setting, an
``fd://N`` past a C int, a numeric ``user``/``group`` past ``uid_t``, ``threads`` without
a bound. Each is one ``SOURCE:KEY: what is wrong`` line and exit status 2 (at start and
from ``check-config``), and on HUP a refused reload that the daemon survives.

Real daemons on loopback, driven with real signals; every process is killed by PID at
the end."""

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from daemon import alive, python_env
from prefork import settings

FD_MAX = 2 ** 31 - 1  # a descriptor is a C int
ID_MAX = 2 ** 32 - 2  # uid_t, gid_t: 2**32 - 1 is (uid_t) -1, "no change" to setuid(2)
MAX_THREADS = settings.MAX_THREADS

TEXT_KINDS = ("str", "choice", "list")


def problems(config, **argv):
    try:
        settings.load(str(config), env={}, argv_values=argv)
    except settings.ConfigError as exc:
        return exc.problems
    return []


def toml(name, text):
    """``name = text`` as the setting's kind is written (a list for a list)."""
    kind = settings.BY_NAME[name].kind
    value = json.dumps(text)  # a TOML basic string: "\u0000" stays an escape
    return f"{name} = [{value}]\n" if kind == "list" else f"{name} = {value}\n"


@pytest.mark.parametrize("name", [s.name for s in settings.SETTINGS if s.kind in TEXT_KINDS])
def test_a_nul_character_in_any_text_setting_is_one_problem(tmp_path, name):
    config = tmp_path / "c.toml"
    config.write_text(toml(name, "/tmp/a\0b"))
    assert problems(config) == [f"{config}:{name}: must not contain a NUL character (\\u0000), at offset 6"]


def prefork(*args, cwd):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=30,
                          cwd=cwd, env=python_env(), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("line, problem", [
    ('pidfile = "/tmp/p\\u0000.pid"', "pidfile: must not contain a NUL character (\\u0000), at offset 6"),
    ('error_log = "e\\u0000.log"', "error_log: must not contain a NUL character (\\u0000), at offset 1"),
    ('proc_name = "x\\u0000y"', "proc_name: must not contain a NUL character (\\u0000), at offset 1"),
    ('bind = ["unix:/tmp/s\\u0000"]', "bind: must not contain a NUL character (\\u0000), at offset 11"),
    ('certfile = "c\\u0000.pem"', "certfile: must not contain a NUL character (\\u0000), at offset 1"),
    ('bind = ["fd://99999999999999999999"]',
     "bind: fd://99999999999999999999: descriptor number out of range (0 to 2147483647)"),
    ('metrics_bind = "fd://2147483648"', "metrics_bind: fd://2147483648: descriptor number out of range "
                                         "(0 to 2147483647)"),
    ('user = "4294967295"\ngroup = "0"', "user: uid 4294967295 out of range (0 to 4294967294)"),
    ('group = "4294967296"', "group: gid 4294967296 out of range (0 to 4294967294)"),
    ('threads = 100000', "threads: must be at most 1024, got 100000"),
], ids=["pidfile", "error_log", "proc_name", "unix", "certfile", "fd-overflow", "metrics-fd", "uid", "gid",
        "threads"])
@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
def test_a_bad_value_exits_2_with_its_source_and_key(tmp_path, line, problem, command):
    config = tmp_path / "c.toml"
    config.write_text(f'{line}\nworkers = 1\naccess_log = ""\n' + ("" if "bind" in line else
                      'bind = ["127.0.0.1:0"]\nmetrics_bind = "127.0.0.1:0"\n'))
    proc = prefork(*command, "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"{config}:{problem}" in proc.stderr.splitlines(), proc.stderr


@pytest.mark.parametrize("value, ok", [(FD_MAX - 1, True), (FD_MAX, True), (FD_MAX + 1, False)])
def test_the_fd_limit(tmp_path, value, ok):
    config = tmp_path / "c.toml"
    config.write_text(f'bind = ["fd://{value}"]\n')
    assert (problems(config) == []) is ok


@pytest.mark.parametrize("value, ok", [(ID_MAX - 1, True), (ID_MAX, True), (ID_MAX + 1, False)])
@pytest.mark.parametrize("name", ["user", "group"])
def test_the_numeric_account_limit(tmp_path, name, value, ok):
    config = tmp_path / "c.toml"
    config.write_text(f'{name} = "{value}"\ngroup = "0"\n' if name == "user" else f'{name} = "{value}"\n')
    assert (problems(config) == []) is ok


@pytest.mark.parametrize("value, ok", [(MAX_THREADS - 1, True), (MAX_THREADS, True), (MAX_THREADS + 1, False)])
def test_the_threads_limit(tmp_path, value, ok):
    config = tmp_path / "c.toml"
    config.write_text(f"threads = {value}\n")
    assert (problems(config) == []) is ok


@pytest.mark.parametrize("line", ['error_log = "/tmp/e\\u0000.log"', 'certfile = "c\\u0000.pem"',
                                  'proc_name = "a\\u0000b"', "threads = 5000"])
def test_a_hup_with_a_bad_value_is_a_refused_reload_and_the_daemon_goes_on(daemons, tmp_path, line):
    config = tmp_path / "c.toml"
    config.write_text("workers = 1\n")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(10)
    d = daemons("--config", str(config), workers=1, env={"NOTIFY_SOCKET": str(tmp_path / "notify")})
    d.wait_ready()
    while b"READY=1" not in notify.recv(4096):
        pass
    before = d.wait_workers(1)
    config.write_text(f"workers = 1\n{line}\n")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused")
    assert b"RELOADING=1" in notify.recv(4096)
    assert notify.recv(4096).startswith(b"READY=1\nSTATUS=1 worker, ")  # systemd's reload ends: it keeps the unit active
    port = d.metrics_port()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=5) as response:
        master = json.load(response)["master"]
    key = re.match(r"\w+", line).group(0)
    assert master["reload_failures"] == 1 and master["generation"] == 1
    assert master["last_reload_error"].startswith(f"configuration: {config}:{key}: "), master
    assert "Traceback" not in d.log()
    assert alive(d.pid) and d.serving_workers() == before
    assert d.request().startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("value, says", [
    ("app", "starts with '/'"),
    ("/\u65e5\u672c", "cannot stand in a URL path prefix"),
    ("/a b", "cannot stand in a URL path prefix"),
    ("/a\tb", "cannot stand in a URL path prefix"),
])
def test_a_root_path_that_no_request_path_can_start_with_is_a_config_error(tmp_path, value, says):
    config = tmp_path / "prefork.toml"
    config.write_text(f"root_path = {json.dumps(value)}\n", encoding="utf-8")
    found = problems(config)
    assert len(found) == 1 and found[0].startswith(f"{config}:root_path: ") and says in found[0], found
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                         capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.returncode == 2 and f"{config}:root_path: " in out.stderr, (out.returncode, out.stderr)


@pytest.mark.parametrize("value", ["/app", "/api/", "/caf\u00e9", "/a%20b"])
def test_a_usable_root_path_is_taken(tmp_path, value):
    config = tmp_path / "prefork.toml"
    config.write_text(f"root_path = {json.dumps(value)}\n", encoding="utf-8")
    assert problems(config) == []


@pytest.mark.parametrize("text, argv, headers, problem", [
    ("request_timeout = 3\n", {}, 3.0, None),  # the default headers_timeout (60) follows it down, as Node's
    ("", {"request_timeout": 10.0}, 10.0, None),
    ("request_timeout = 0\n", {}, 60.0, None),  # (no request deadline: the head's stays)
    ("request_timeout = 3\nheaders_timeout = 5\n", {}, None, "headers_timeout (5.0) must not exceed request_timeout (3.0)"),
])
def test_a_short_request_timeout_takes_the_default_headers_timeout_down_with_it(tmp_path, text, argv, headers, problem):
    config = tmp_path / "prefork.toml"
    config.write_text(text)
    if problem is not None:
        (line,) = problems(config, **argv)
        assert line == f"{config}:headers_timeout: {problem}"
        return
    assert problems(config, **argv) == []
    assert settings.load(str(config), env={}, argv_values=argv).headers_timeout == headers
