"""The access log's header fields: ``{i[name]}`` (a request's), ``{o[name]}`` (a
response's), any case, ``-`` when absent, a repeated field as the request's or
response's headers join it, the client's text escaped as ``{a}``'s is. A real daemon per
interface (events, WSGI, ASGI), its lines made in a batch (a plain format) and at once
(a format with a spec); a gunicorn format's ``%({x}i)s`` translated in its refusal; a
bad header field refused by check-config as ``FILE:KEY:``."""

import socket
import struct
import subprocess
import sys

import pytest

from daemon import ROOT, Daemon, python_env, wait_until
from hostile import exchange
from logline import log_lines
from prefork import logformat, migration
from prefork.settings import DEFAULT_ACCESS_FORMAT

PLAIN = '{s} "{i[X-Request-Id]}" "{o[content-type]}" "{o[X-Multi]}" "{i[accept]}" "{i[x-request-id]}" {b}'
SPEC = '{s} "{i[X-Request-Id]!s:>4}" "{o[content-type]}" "{o[X-Multi]}" "{i[accept]}" "{i[x-request-id]}" {b}'
HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
# (request's extra fields, the X-Request-Id written, Accept written)
CASES = [
    (b"X-Request-Id: abc-123\r\n", "abc-123", "-"),
    (b"", "-", "-"),
    (b"x-request-id: a\r\nX-REQUEST-ID: b\r\nAccept: 1\r\naccept: 2\r\n", "a, b", "1, 2"),
    (b'X-Request-Id: q"u\\o \xff\tz \xc3\xa9\r\n', "q\\x22u\\x5Co \\xFF\\x09z \\xC3\\xA9", "-"),
]
# refused by the parser (400, no header read): nothing of them reaches a line raw
REFUSED = [b"X-Request-Id: a\rb\r\n", b"X-Request-Id: a\nb\r\n", b"X-Request-Id: ok\r\n\tfolded\r\n"]
APPS = [("events", "apps.header_fields:setup", "6"), ("wsgi", "apps.header_fields:wsgi", "4"),
        ("asgi", "apps.header_fields:asgi", "4")]


@pytest.mark.parametrize("fmt", [PLAIN, SPEC], ids=["batch", "at-once"])
@pytest.mark.parametrize("interface, app, size", APPS, ids=[a[0] for a in APPS])
def test_header_fields_on_a_real_daemon(tmp_path, interface, app, size, fmt):
    path = str(tmp_path / "access.log")
    d = Daemon("--interface", interface, "--access-log", path, "--access-log-format", fmt, app=app, workers=1,
               access_log=None)
    try:
        d.wait_ready(timeout=30)
        for extra, _, _ in CASES:
            assert exchange(d.port, HEAD + extra + b"\r\n").startswith(b"HTTP/1.1 200 "), extra
        for extra in REFUSED:
            assert exchange(d.port, HEAD + extra + b"\r\n").startswith(b"HTTP/1.1 400 "), extra
        want = len(CASES) + len(REFUSED)
        lines = wait_until(lambda: (lambda got: got if len(got) >= want else None)(log_lines(path)), 10,
                           what="the access log's lines")
        id_width = "{:>4}" if fmt is SPEC else "{}"
        expected = [f'200 "{id_width.format(rid)}" "text/plain" "a, b" "{accept}" "{rid}" {size}'
                    for _, rid, accept in CASES]
        expected += [f'400 "{id_width.format("-")}" "-" "-" "-" "-" {lines[-1].rsplit(" ", 1)[1]}'] * len(REFUSED)
        assert lines == expected, d.log()
    finally:
        d.cleanup()


def test_the_default_format_reads_no_header_field():
    """A format without a header field compiles as it did: no header read, no helper."""
    for source, constants in (logformat.compile_format(DEFAULT_ACCESS_FORMAT),
                              logformat.compile_observer(DEFAULT_ACCESS_FORMAT),
                              logformat.compile_held(DEFAULT_ACCESS_FORMAT)):
        assert "response_header" not in source and "header_" not in source, source
        assert not any(key.startswith("header_") or key in ("response_header", "joined") for key in constants)


@pytest.mark.parametrize("gunicorn, prefork", [
    ('%(h)s "%({X-Request-Id}i)s" %({content-type}o)s %(s)s', '{h} "{i[x-request-id]}" {o[content-type]} {s}'),
    ("%({Accept}i)s", "{i[accept]}"),
])
def test_gunicorn_header_atoms_are_translated(gunicorn, prefork):
    assert migration.gunicorn_format(gunicorn) == (prefork, [])
    logformat.parse_format(prefork)


@pytest.mark.parametrize("atom", ["%({HOME}e)s", "%({a b}i)s", "%({}o)s", "%({12}i)s"])
def test_gunicorn_atoms_without_a_field_stay_refused(atom):
    assert migration.gunicorn_format(f"%(h)s {atom}") == (None, [atom])


def check_config(tmp_path, fmt):
    config = tmp_path / "prefork.toml"
    config.write_text(f"access_log_format = '{fmt}'\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                          capture_output=True, text=True, env=python_env(), cwd=ROOT, timeout=60)
    return config, proc


def test_check_config_accepts_header_fields(tmp_path):
    _, proc = check_config(tmp_path, '{h} "{i[X-Request-Id]}" {o[Content-Type]:>12}')
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("fmt, error", [
    ("{h} {x[a]}", "unknown field(s) {x[a]} (a request header is written {i[name]}, a response header {o[name]})"),
    ("{h} {i}", "unknown field(s) {i} (a request header is written {i[name]}, a response header {o[name]})"),
    ("{i[a b]}", "{i[a b]}: 'a b' is no header name (a token, not only digits)"),
    ("{o[12]}", "{o[12]}: '12' is no header name (a token, not only digits)"),
    ('%(h)s "%({X-Request-Id}i)s"', "gunicorn's %(x)s fields are not read here, prefork's are written {x}: "
                                    "'{h} \"{i[x-request-id]}\"'"),
])
def test_check_config_refuses_a_bad_header_field(tmp_path, fmt, error):
    config, proc = check_config(tmp_path, fmt)
    assert proc.returncode == 2, proc.stderr
    assert f"{config}:access_log_format: {error}" in proc.stderr.splitlines(), proc.stderr


def test_a_response_header_never_sent_is_absent(tmp_path):
    """A response the client closed before its head went out (499) sent no header: the
    fields the app had set are ``-``, as nginx's ``$sent_http_x``."""
    path = str(tmp_path / "access.log")
    d = Daemon("--access-log", path, "--access-log-format", '{s} "{o[x-multi]}" "{o[content-type]}"',
               "--access-log-flush", "0", app="apps.header_fields:setup", workers=1, access_log=None)
    try:
        d.wait_ready(timeout=30)
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        sock.sendall(b"GET /unanswered HTTP/1.1\r\nHost: x\r\n\r\n")
        assert exchange(d.port, HEAD + b"\r\n").startswith(b"HTTP/1.1 200 ")  # (the request was read)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # (a reset: the client left)
        lines = wait_until(lambda: (lambda got: got if len(got) >= 2 else None)(log_lines(path)), 10,
                           what="the access log's lines")
        assert sorted(lines) == ['200 "a, b" "text/plain"', '499 "-" "-"'], d.log()
    finally:
        d.cleanup()
