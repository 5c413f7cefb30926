"""A gunicorn or uvicorn flag prefork names otherwise is refused with the flag and the
value to write here, read as that server reads it: gunicorn's ``-m 18`` is decimal, so
``--umask 0o022``, not ``--umask`` (which would then refuse 18 as no octal mode). Each
value is checked against gunicorn's own parsing (its argparse and validators, in the
venv): what gunicorn makes of the flag is what prefork makes of the flag it is told to
write. The same words in GUNICORN_CMD_ARGS get the same hint; uvicorn's --host/--port
beside a -b take the part they leave out from that bind."""

import re
import shlex
import subprocess
import sys

import pytest
from gunicorn.config import Config

from daemon import python_env
from prefork import checks, cli, settings


def prefork(*args, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=60,
                          env=python_env(**(env or {})), stdin=subprocess.DEVNULL)


def gunicorn_reads(argv):
    """gunicorn's settings after its own command line parser and validators."""
    config = Config()
    parsed = config.parser().parse_args(argv)
    for name, value in vars(parsed).items():
        if value is not None and name != "args":
            config.set(name.lower(), value)
    return config


def prefork_reads(written, name):
    """What prefork makes of the flags ``written`` for setting ``name``: its own parser
    and conversion."""
    values = cli.parse(shlex.split(written), check=True)
    setting = settings.BY_NAME[name]
    return checks.convert(setting, values[name], from_text=setting.kind != "list")  # (argparse's list: a list)


CERT_REQS = {0: "none", 1: "optional", 2: "required"}
CASES = [  # gunicorn's flags, its setting, prefork's, what gunicorn's value is here
    (["-m", "18"], "umask", "umask", lambda value: value),
    (["-m", "022"], "umask", "umask", lambda value: value),
    (["-m027"], "umask", "umask", lambda value: value),
    (["-m", "0o7"], "umask", "umask", lambda value: value),
    (["-m", "0x12"], "umask", "umask", lambda value: value),
    (["-t", "45"], "timeout", "timeout", float),
    (["-t7"], "timeout", "timeout", float),
    (["-t", "0"], "timeout", "timeout", lambda value: 1e6),  # no limit: the most there is here
    (["-n", "web app"], "proc_name", "proc_name", lambda value: value),
    (["-p", "/tmp/app.pid"], "pidfile", "pidfile", lambda value: value),
    (["--worker-connections", "+100"], "worker_connections", "max_connections", lambda value: value),
    (["--limit-request-fields", "50"], "limit_request_fields", "max_headers_count", lambda value: value),
    (["--limit-request-fields", "0"], "limit_request_fields", "max_headers_count", lambda value: 32768),
    (["--limit-request-line", "8000"], "limit_request_line", "max_header_size", lambda value: value + 16384),
    (["--cert-reqs", "2"], "cert_reqs", "verify_client", CERT_REQS.get),
    (["--cert-reqs", "0x1"], "cert_reqs", "verify_client", CERT_REQS.get),
    (["--access-logfile", "-"], "accesslog", "access_log", lambda value: "/dev/stdout"),
    (["--access-logfile", "/tmp/a b.log"], "accesslog", "access_log", lambda value: value),
    (["--error-logfile", "-"], "errorlog", "error_log", lambda value: value),
    (["--log-file", "/tmp/e.log"], "errorlog", "error_log", lambda value: value),
    (["--access-logformat", '%(h)s "%(r)s" %(s)s'], "access_log_format", "access_log_format",
     lambda value: '{h} "{r}" {s}'),
    (["--asgi-lifespan", "ON"], "asgi_lifespan", "lifespan", lambda value: value),
    (["--asgi-loop", "uvloop"], "asgi_loop", "loop", lambda value: value),
    (["--websocket-max-message-size", "1000"], "websocket_max_message_size", "ws_max_size", lambda value: value),
    (["--pythonpath", "src,lib"], "pythonpath", "app_dir", lambda value: value.split(",")[0]),
    (["--proxy-allow-from", "10.0.0.1, 10.0.0.2"], "proxy_allow_ips", "proxy_allow_ips", lambda value: value),
]


def written(stderr):
    """The flags a hint says to write."""
    found = re.search(r"is (?:gunicorn|uvicorn)'s: write (.+?) here", stderr)
    assert found, stderr
    return found.group(1)


@pytest.mark.parametrize("argv, theirs, ours, meaning", CASES, ids=[" ".join(case[0]) for case in CASES])
def test_a_renamed_gunicorn_flag_is_answered_with_the_flag_and_value_that_do_the_same(argv, theirs, ours, meaning):
    proc = prefork("check-config", *argv)
    assert proc.returncode == 2, proc.stderr
    flags = written(proc.stderr)
    assert prefork_reads(flags, ours) == meaning(getattr(gunicorn_reads(argv), theirs)), proc.stderr
    from_env = prefork("check-config", env={"GUNICORN_CMD_ARGS": shlex.join(argv)})
    assert from_env.returncode == 0, from_env.stderr
    assert f"write {flags} here" in from_env.stderr, from_env.stderr
    assert f"flags ({shlex.join(argv)})" not in from_env.stderr  # not also to give as they are


@pytest.mark.parametrize("argv, ours, value", [
    (["--ssl-cert-reqs", "1"], "verify_client", "optional"),
    (["--timeout-keep-alive", "7"], "keep_alive_timeout", 7.0),
    (["--limit-concurrency", "64"], "max_connections", 64),
    (["--no-access-log", "main:app"], "access_log", ""),
    (["--no-proxy-headers", "main:app"], "forwarded_allow_ips", []),
])
def test_a_renamed_uvicorn_flag_is_answered_with_the_flag_and_value_that_do_the_same(argv, ours, value):
    proc = prefork("check-config", *argv)
    assert proc.returncode == 2, proc.stderr
    assert prefork_reads(written(proc.stderr), ours) == value, proc.stderr


def test_gunicorns_decimal_umask_given_as_prefork_s_umask_is_refused_with_its_octal_spelling():
    assert gunicorn_reads(["--umask", "18"]).umask == 0o022
    proc = prefork("check-config", "--umask", "18")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["argv:--umask: expected an octal mode such as \"0o022\", got '18' "
                                        "(gunicorn's --umask 18 is 0o022: write 0o022)"]


def test_a_value_gunicorn_refuses_too_gets_the_setting_alone():
    proc = prefork("check-config", "-m", "0o1777x")
    assert proc.stderr.splitlines()[1] == "  -m is gunicorn's: use --umask here", proc.stderr


@pytest.mark.parametrize("argv, line", [
    (["-b", ":80", "--host", "x.example"], "--host x.example is uvicorn's: write --bind x.example:80 here, in place "
                                           "of -b :80"),
    (["--bind=10.0.0.1:81", "--port", "9000"], "--port 9000 is uvicorn's: write --bind 10.0.0.1:9000 here, in "
                                               "place of --bind 10.0.0.1:81"),
    (["-b", "[::1]:82", "--host", "::"], "--host :: is uvicorn's: write --bind [::]:82 here, in place of -b [::1]:82"),
    (["-b", "unix:/run/a.sock", "--host", "x"], "--host x is uvicorn's: write --bind x:8000 here"),
])
def test_uvicorns_host_or_port_beside_a_bind_takes_the_other_part_from_that_bind(argv, line):
    proc = prefork("check-config", *argv)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[1] == "  " + line, proc.stderr


FILE_CASES = [  # a gunicorn.conf.py line TOML reads too, gunicorn's setting, what its value is here
    ('accesslog = "-"', "accesslog", lambda value: "/dev/stdout"),
    ("keepalive = 5", "keepalive", float),
    ("cert_reqs = 1", "cert_reqs", CERT_REQS.get),
    ("worker_connections = 200", "worker_connections", lambda value: value),
    ('wsgi_app = "main:app"', "wsgi_app", lambda value: value),
    ('pythonpath = "src"', "pythonpath", lambda value: value),
]


def test_a_gunicorn_config_file_s_renamed_keys_are_answered_with_the_line_to_write(tmp_path):
    import tomllib

    config = tmp_path / "gunicorn.conf.py"
    config.write_text("".join(line + "\n" for line, _, _ in FILE_CASES) + 'errorlog = 5\n')
    proc = prefork("check-config", "-c", str(config))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    for (line, theirs, meaning), problem in zip(FILE_CASES, lines):
        found = re.fullmatch(rf"{re.escape(str(config))}:{theirs}: unknown setting \({theirs} is gunicorn's: "
                             r"write (.+?) here.*", problem)
        assert found, (line, problem)
        (ours, value), = tomllib.loads(found.group(1)).items()
        gunicorn = Config()
        gunicorn.set(theirs, tomllib.loads(line)[theirs])  # as gunicorn sets each key of its file
        assert checks.convert(settings.BY_NAME[ours], value, from_text=False) == \
            meaning(getattr(gunicorn, theirs)), problem
    assert lines[len(FILE_CASES)].endswith(":errorlog: unknown setting (errorlog is gunicorn's: use error_log here)")


def test_gunicorns_forwarder_headers_is_answered_with_the_mount_point_setting():
    assert Config().forwarder_headers == ["SCRIPT_NAME", "PATH_INFO"]  # header names, not peers
    proc = prefork("check-config", "--forwarder-headers", "SCRIPT_NAME")
    assert proc.stderr.splitlines()[1] == ("  --forwarder-headers is gunicorn's: use --root-path here (a proxy's "
                                           "SCRIPT_NAME field is not read (a field name with _ is dropped): the mount "
                                           "point is root_path)"), proc.stderr
