"""An operator's mistakes in the configuration: each is one ``SOURCE:KEY: what is wrong``
line on stderr and exit status 2, never a traceback, and nothing is left behind."""

import os
import socket
import subprocess
import sys

import pytest

from daemon import python_env
from prefork import settings


def problems(config=None, env=None, **argv):
    try:
        settings.load(config, env=env or {}, argv_values=argv)
    except settings.ConfigError as exc:
        return exc.problems
    return []


def prefork(*args, cwd=None, env=None, timeout=30):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=python_env(**(env or {})), stdin=subprocess.DEVNULL)


def assert_config_error(proc, line):
    assert proc.returncode == 2, proc.stderr
    assert line in proc.stderr.splitlines(), proc.stderr
    assert "Traceback" not in proc.stderr


# -- the file ------------------------------------------------------------------------------------
def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path):
    config = tmp_path / "p.toml"
    config.write_bytes(b"workers = 2\n\xff\xfe\n")
    proc = prefork("check-config", "--config", str(config))
    assert_config_error(proc, f"{config}: not valid TOML: not UTF-8 text (byte 12)")


def test_a_toml_syntax_error_names_its_line(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("workers = 2\nbacklog = = 5\n")
    (line,) = problems(str(config))
    assert line.startswith(f"{config}: not valid TOML: ") and "line 2" in line


def test_an_unknown_key_suggests_the_setting_meant(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("wrokers = 2\ngraceful_timout = 3\ncolour = 1\n")
    assert problems(str(config)) == [f"{config}:wrokers: unknown setting (did you mean workers?)",
                                     f"{config}:graceful_timout: unknown setting (did you mean graceful_timeout?)",
                                     f"{config}:colour: unknown setting"]


def test_a_mistyped_environment_variable_is_warned_about():
    loaded = settings.load(env={"PREFORK_WROKERS": "3", "PREFORK_TEST_LOOP": "asyncio"})
    assert loaded.warnings == ["env:PREFORK_WROKERS: unknown setting, ignored (did you mean PREFORK_WORKERS?)"]
    proc = prefork("check-config", env={"PREFORK_WROKERS": "3"})
    assert proc.returncode == 0
    assert "warning: env:PREFORK_WROKERS: unknown setting, ignored (did you mean PREFORK_WORKERS?)" in proc.stderr


# -- values --------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag,value,line", [
    ("timeout", "nan", "argv:--timeout: expected a finite number, got nan"),
    ("graceful_timeout", "inf", "argv:--graceful-timeout: expected a finite number, got inf"),
    ("readiness_withdraw", "1e9", "argv:--readiness-withdraw: must be at most 1000000, got 1000000000.0"),
    ("backlog", "99999999999", "argv:--backlog: must be at most 65535, got 99999999999"),
    ("workers", "100000", "argv:--workers: must be at most 1024, got 100000"),
])
def test_numbers_out_of_range(flag, value, line):
    assert problems(**{flag: value}) == [line]


def test_a_non_finite_number_from_the_file(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("timeout = nan\nkeep_alive_timeout = inf\n")
    assert sorted(problems(str(config))) == [f"{config}:keep_alive_timeout: expected a finite number, got inf",
                                             f"{config}:timeout: expected a finite number, got nan"]


@pytest.mark.parametrize("fmt", ["{h:d}", "{b:d}", "{p:%Y}"])
def test_an_access_log_format_spec_that_fits_no_value_is_refused(fmt):
    (line,) = problems(access_log_format=fmt)
    assert line.startswith("argv:--access-log-format: not a valid format for its fields: ")


def test_access_log_format_specs_that_fit_are_kept():
    assert problems(access_log_format="{h:>15} {s:d} {D:,} {b:>8}") == []


def test_an_account_that_does_not_exist():
    assert problems(user="no-such-user-here", group="no-such-group-here") == [
        "argv:--user: no user named 'no-such-user-here' on this host",
        "argv:--group: no group named 'no-such-group-here' on this host"]


def test_files_in_a_missing_directory(tmp_path):
    missing = tmp_path / "nowhere"
    assert problems(pidfile=str(missing / "p.pid"), access_log=str(missing / "a.log"),
                    error_log=str(missing / "e.log"), bind=[f"unix:{missing}/s"]) == [
        f"argv:--bind: unix:{missing}/s: directory {missing} does not exist",
        f"argv:--pidfile: {missing}/p.pid: directory {missing} does not exist",
        f"argv:--access-log: {missing}/a.log: directory {missing} does not exist",
        f"argv:--error-log: {missing}/e.log: directory {missing} does not exist"]


# -- addresses -----------------------------------------------------------------------------------
def test_no_address_at_all():
    assert problems(env={"PREFORK_BIND": ""}) == ["env:PREFORK_BIND: expected at least one address"]


def test_an_address_twice_and_metrics_on_a_serving_address():
    assert problems(bind=["127.0.0.1:8123", "http://127.0.0.1:8123"], metrics_bind="127.0.0.1:8123") == [
        "argv:--bind: 127.0.0.1:8123 is listed twice",
        "argv:--metrics-bind: 127.0.0.1:8123 is also a bind address (the operations endpoints need an "
        "address of their own)"]
    assert problems(bind=["127.0.0.1:0", "127.0.0.1:0"], metrics_bind="127.0.0.1:0") == []  # each its own port


@pytest.mark.parametrize("address,line", [
    ("127.0.0.1:65536", "127.0.0.1:65536: port out of range (0 to 65535)"),
    ("[::1]", "[::1]: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"),
    ("fd://", "fd://: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"),
    ("no-such-host.invalid:80", "no-such-host.invalid:80: cannot resolve no-such-host.invalid to an address"),
])
def test_bind_strings(address, line):
    (problem,) = problems(bind=[address])
    assert problem.startswith("argv:--bind: " + line)


def test_an_ipv6_loopback_port_0_is_fine():
    assert problems(bind=["[::1]:0"]) == []


# -- at start: what only opening the files shows -------------------------------------------------------
def test_a_log_file_that_cannot_be_opened_is_a_config_error(tmp_path):
    proc = prefork("--bind", f"unix:{tmp_path}/s", "--metrics-bind", "", "--error-log", "/proc/prefork-error.log")
    assert_config_error(proc, "argv:--error-log: /proc/prefork-error.log: cannot open: no such file or directory")
    proc = prefork("--bind", f"unix:{tmp_path}/s", "--metrics-bind", "", "--access-log", "/proc/prefork-access.log")
    assert_config_error(proc, "argv:--access-log: /proc/prefork-access.log: cannot open: no such file or directory")
    assert not os.path.exists(tmp_path / "s")


def test_a_pidfile_that_cannot_be_written_leaves_nothing_behind(tmp_path):
    (tmp_path / "p.pid").mkdir()  # a directory in the pidfile's place
    proc = prefork("--bind", f"unix:{tmp_path}/s", "--metrics-bind", "", "--pidfile", str(tmp_path / "p.pid"),
                   "--workers", "1")
    assert proc.returncode == 2, proc.stderr
    assert f"argv:--pidfile: {tmp_path}/p.pid: cannot write: is a directory" in proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    assert not os.path.exists(tmp_path / "s")


def test_a_unix_path_that_is_a_regular_file_is_not_replaced(tmp_path):
    path = tmp_path / "data"
    path.write_text("keep me")
    proc = prefork("--bind", f"unix:{path}", "--metrics-bind", "", "--workers", "1")
    assert_config_error(proc, f"argv:--bind: unix:{path}: the path exists and is not a socket")
    assert path.read_text() == "keep me"


def test_a_unix_socket_a_live_server_listens_on_is_not_stolen(tmp_path):
    path = str(tmp_path / "live.sock")
    live = socket.socket(socket.AF_UNIX)
    live.bind(path)
    live.listen(8)
    try:
        proc = prefork("--bind", f"unix:{path}", "--metrics-bind", "", "--workers", "1")
        assert_config_error(proc, f"argv:--bind: unix:{path}: a running server listens on this socket")
        probe = socket.socket(socket.AF_UNIX)
        probe.connect(path)  # still the live server's
        probe.close()
    finally:
        live.close()


# -- PROXY listeners and socket activation -----------------------------------------------------------------
def test_a_proxy_listener_named_for_systemd_without_socket_activation(tmp_path):
    proc = prefork("--bind", f"unix:{tmp_path}/s", "--metrics-bind", "", "--workers", "1",
                   "--proxy-protocol-bind", "systemd:web")
    assert_config_error(proc, f"argv:--proxy-protocol-bind: systemd:web: no listener has this address "
                              f"(listening on unix:{tmp_path}/s)")
    assert not os.path.exists(tmp_path / "s")


def test_a_proxy_listener_named_by_its_bind_address_under_socket_activation(tmp_path):
    """Socket activation replaces ``bind``: a PROXY listener named by a bind address
    would silently speak plain HTTP; the start fails instead."""
    from daemon import HERE, ROOT, wait_until
    path = str(tmp_path / "http.sock")
    log_path = tmp_path / "log"
    cmd = ["systemd-socket-activate", "-l", path, "--fdname", "web", "-E", f"PYTHONPATH={ROOT}{os.pathsep}{HERE}",
           "--", sys.executable, "-m", "prefork", "apps.basic:setup", "--workers", "1", "--metrics-bind", "",
           "--bind", "127.0.0.1:1", "--proxy-protocol-bind", "127.0.0.1:1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(path), 10, what="the activation socket")
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(path)  # starts the daemon
        sock.close()
        assert proc.wait(30) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert ("argv:--proxy-protocol-bind: 127.0.0.1:1: no listener has this address (listening on systemd:web)"
            in log_path.read_text().splitlines())


# -- the app ---------------------------------------------------------------------------------------------------
def boot(tmp_path, app, source):
    (tmp_path / f"{app.partition(':')[0]}.py").write_text(source)
    return prefork(app, "--chdir", str(tmp_path), "--bind", f"unix:{tmp_path}/s", "--metrics-bind", "",
                   "--workers", "2", cwd=tmp_path)


def test_a_misspelt_app_attribute_names_the_one_meant_and_exits_3(tmp_path):
    proc = boot(tmp_path, "typo:aplication", "def application(environ, start_response):\n    pass\n")
    assert proc.returncode == 3, proc.stderr
    assert "module 'typo' has no attribute 'aplication' (did you mean 'application'?)" in proc.stderr
    assert proc.stderr.count("booting worker") == 2  # no respawn
    assert not os.path.exists(tmp_path / "s")


def test_an_app_with_a_syntax_error_exits_3_naming_file_and_line(tmp_path):
    proc = boot(tmp_path, "bad:app", "x = 1\ndef app(:\n    pass\n")
    assert proc.returncode == 3, proc.stderr
    assert f'File "{tmp_path}/bad.py", line 2' in proc.stderr and "SyntaxError" in proc.stderr


def test_an_app_that_is_not_callable_exits_3(tmp_path):
    proc = boot(tmp_path, "data:app", "app = {'not': 'an app'}\n")
    assert proc.returncode == 3, proc.stderr
    assert "data:app is a dict" in proc.stderr and "which is not callable" in proc.stderr


def test_an_app_module_that_is_missing_is_a_config_error(tmp_path):
    proc = prefork("nowhere_to_be_found:app", "--bind", f"unix:{tmp_path}/s", "--metrics-bind", "", cwd=tmp_path)
    assert_config_error(proc, "argv:--app: no module named 'nowhere_to_be_found'")


def test_settings_put_in_a_table_are_pointed_at(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("[server]\nworkers = 2\n")
    assert problems(str(config)) == [f"{config}:server: unknown setting (a table: settings are top-level keys, "
                                     f"written before any [table])"]


def test_a_config_path_that_is_a_directory(tmp_path):
    assert problems(str(tmp_path)) == [f"{tmp_path}: cannot read: Is a directory"]


@pytest.mark.parametrize("name,value,line", [
    ("PREFORK_UMASK", "abc", "env:PREFORK_UMASK: expected an octal mode such as \"0o022\", got 'abc'"),
    ("PREFORK_RELOAD", "maybe", "env:PREFORK_RELOAD: expected true or false, got 'maybe'"),
    ("WEB_CONCURRENCY", "lots", "env:WEB_CONCURRENCY: expected an integer, got 'lots'"),
    ("PREFORK_BACKLOG", "1e3", "env:PREFORK_BACKLOG: expected an integer, got '1e3'"),
    ("PREFORK_TIMEOUT", "-inf", "env:PREFORK_TIMEOUT: expected a finite number, got -inf"),
    ("PREFORK_METRICS_BIND", "unix:/tmp/m.sock", "env:PREFORK_METRICS_BIND: expected HOST:PORT or fd://N"),
])
def test_bad_environment_values(name, value, line):
    proc = prefork("check-config", env={name: value})
    assert_config_error(proc, line)


def test_a_gunicorn_factory_call_needs_literal_arguments():
    (line,) = problems(app="myproject:create_app(settings)")
    assert line == ("argv:--app: the factory's arguments in 'myproject:create_app(settings)' must be literals "
                    "(strings, numbers, True/False/None, lists, dicts)")


def test_a_bare_uid_without_a_passwd_entry_needs_a_group():
    import pwd
    uid = next(n for n in range(54321, 54421) if not _known_uid(pwd, n))
    assert problems(user=str(uid)) == [f"argv:--user: uid {uid} has no passwd entry to take a group from: set "
                                       f"group too"]
    assert problems(user=str(uid), group=str(uid)) == []


def _known_uid(pwd, uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


@pytest.mark.skipif(os.getuid() != 0, reason="dropping privileges needs root")
def test_workers_run_as_a_bare_uid_and_gid(daemons):
    import pwd
    uid = next(n for n in range(54321, 54421) if not _known_uid(pwd, n))
    d = daemons("--user", str(uid), "--group", str(uid), workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    with open(f"/proc/{worker}/status") as fh:
        status = dict(line.split(":", 1) for line in fh.read().splitlines())
    assert status["Uid"].split()[:2] == [str(uid)] * 2 and status["Gid"].split()[:2] == [str(uid)] * 2
    assert d.request().startswith(b"HTTP/1.1 200 OK")


# -- the master's loop ---------------------------------------------------------------------------------------------
def test_the_master_loop_survives_a_timer_weeks_away():
    # epoll refuses a wait of more than about 24.8 days: the loop waits at most a day at a time
    import threading
    from prefork.loop import Loop
    loop = Loop()
    a, b = socket.socketpair()
    try:
        loop.add_reader(a.fileno(), loop.stop)
        loop.call_later(1e7, lambda: None)  # about 116 days
        timer = threading.Timer(0.2, b.send, (b"x",))
        timer.start()
        try:
            loop.run()
        finally:
            timer.join(5)
    finally:
        a.close()
        b.close()


def test_choices_are_taken_whatever_their_case():
    loaded = settings.load(env={"PREFORK_LOG_LEVEL": "DEBUG"}, argv_values={"tls_min_version": "tlsv1.3"})
    assert loaded.log_level == "debug" and loaded.tls_min_version == "TLSv1.3"
    assert problems(log_level="LOUD") == ["argv:--log-level: expected one of debug, info, warning, error, critical, "
                                          "got 'LOUD'"]


def test_files_that_are_directories_and_a_unix_path_that_is_no_socket(tmp_path):
    """check-config refuses what the master would refuse at start."""
    regular = tmp_path / "regular"
    regular.write_text("not a socket")
    assert problems(pidfile=str(tmp_path), access_log=str(tmp_path), error_log=str(tmp_path),
                    bind=[f"unix:{regular}", f"unix:{tmp_path}"]) == [
        f"argv:--bind: unix:{regular}: the path exists and is not a socket",
        f"argv:--pidfile: {tmp_path}: cannot write: is a directory",
        f"argv:--access-log: {tmp_path}: cannot write: is a directory",
        f"argv:--error-log: {tmp_path}: cannot write: is a directory"]


def test_a_gunicorn_setting_written_as_a_table_still_gets_its_hint(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text('secure_scheme_headers = {"X-FORWARDED-PROTO" = "https"}\nlogconfig_dict = {}\n')
    found = problems(str(config))
    assert len(found) == 2 and all("is gunicorn's" in line for line in found), found
    assert found[0].startswith(f"{config}:secure_scheme_headers: unknown setting (secure_scheme_headers is "
                               f"gunicorn's: use forwarded_allow_ips here"), found


def test_a_syntax_error_in_the_app_is_told_without_prefork_and_importlib_frames(tmp_path):
    proc = boot(tmp_path, "bad:app", "x = 1\ndef app(:\n    pass\n")
    assert proc.returncode == 3, proc.stderr
    told = proc.stderr.split("the app failed to load:\n", 1)[1].split("failed to boot", 1)[0]
    assert f'File "{tmp_path}/bad.py", line 2' in told and "SyntaxError" in told, told
    assert "importlib" not in told and "prefork/" not in told and "Traceback" not in told, told
