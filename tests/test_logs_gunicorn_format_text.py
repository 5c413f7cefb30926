"""A gunicorn access log format is refused with its translation, and that translation is
a format prefork accepts that logs what gunicorn logs: gunicorn's literal text (a JSON
line's braces, ``%%``) stays text, and an atom's width stays its width. The advice used
to keep the braces as they were (refused next as an unknown field ``{"ip"}``) and ``%%``
as two percent signs, and an atom with a width (``%(h)-20s``) was not seen as gunicorn's
at all: accepted, it printed its placeholder on every line. Real ``prefork`` runs; the
reference is gunicorn's own ``SafeAtoms`` and ``%`` formatting."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest
from gunicorn.glogging import SafeAtoms

from daemon import Daemon, python_env, wait_until
from harness import read_until_close

JSON_LINE = '{"status":"%(s)s","method":"%(m)s","rid":"%({X-Request-Id}i)s","share":"100%%"}'


def check_config(tmp_path, fmt):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", "--access-log-format", fmt,
                           "--metrics-bind", ""], capture_output=True, text=True, timeout=30, cwd=tmp_path,
                          env=python_env(), stdin=subprocess.DEVNULL)


def advised(tmp_path, fmt):
    """The prefork format the refusal of gunicorn's ``fmt`` advises."""
    out = check_config(tmp_path, fmt)
    assert out.returncode == 2, out.stderr
    found = re.search(r"prefork's are written \{x\}: '(.*)'$", out.stderr.strip())
    assert found, out.stderr
    return found.group(1)


@pytest.mark.parametrize("fmt", [
    JSON_LINE,
    '%(h)-20s|%(l)3s|%(D)8d|%({X-Request-Id}i)12s|%(s)s',
    '{h} %(h)s %(t)s "%(r)s" 50%%',
])
def test_the_advised_translation_is_accepted_and_logs_what_gunicorn_logs(tmp_path, fmt):
    translated = advised(tmp_path, fmt)
    out = check_config(tmp_path, translated)
    assert out.returncode == 0, out.stderr
    values = {"h": "127.0.0.1", "t": "07/Dec/2026:09:04:41 +0000", "r": "GET / HTTP/1.1", "s": 200, "m": "GET",
              "D": 311, "i": {"x-request-id": "abc"}}
    atoms = SafeAtoms({"h": "127.0.0.1", "l": "-", "t": "[07/Dec/2026:09:04:41 +0000]", "r": "GET / HTTP/1.1",
                       "s": "200", "m": "GET", "D": 311, "{x-request-id}i": "abc"})
    assert translated.format(**values) == fmt % atoms


def test_an_atom_with_a_width_is_seen_as_gunicorns(tmp_path):
    out = check_config(tmp_path, "%(h)-15s %(s)s")
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().endswith("prefork's are written {x}: '{h:<15} {s}'"), out.stderr


def test_a_conversion_without_a_spec_is_named_apart_from_an_atom_without_a_field(tmp_path):
    out = check_config(tmp_path, "%(h)s %(h).3s %(T)s %(t)20s")
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().endswith(
        "no field here for %(T)s; no format spec here for the conversion or flag of %(h).3s, %(t)20s (write the "
        "field alone, or with a width) (docs/gunicorn.md)"), out.stderr


def test_a_json_line_translated_from_gunicorn_is_json_in_the_log(tmp_path):
    fmt = advised(tmp_path, JSON_LINE)
    log = str(tmp_path / "access.log")
    daemon = Daemon("--access-log-format", fmt, "--access-log-flush", "0", app="apps.basic:setup", workers=1,
                    access_log=log)
    try:
        daemon.wait_ready()
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: r-1\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).startswith(b"HTTP/1.1 200 ")
        sock.close()
        line = wait_until(lambda: os.path.exists(log) and open(log).read(), 5, what="the access log line")
        assert json.loads(line) == {"status": "200", "method": "GET", "rid": "r-1", "share": "100%"}
    finally:
        daemon.cleanup()
