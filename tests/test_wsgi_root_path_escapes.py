"""A ``root_path`` with percent-escapes, as the configuration asks for a space (``/my app``
is refused: "percent-encode it"): under WSGI it is the mount point its escapes decode to,
matched against the decoded path, and ``SCRIPT_NAME`` is that decoded prefix, as
``PATH_INFO`` is decoded (PEP 3333; gunicorn's ``SCRIPT_NAME=/my app`` gives the same
environ). A UTF-8 prefix written with escapes matches what a browser sends. On the loop
and on threads."""

import json
import socket
import subprocess
import sys
import textwrap

import pytest

from daemon import ROOT, Daemon, python_env
from harness import read_until_close

APP = """
    import json

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps([environ["SCRIPT_NAME"], environ["PATH_INFO"]]).encode()]
"""


def _environ(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
        data = read_until_close(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK"), data
    return json.loads(data.partition(b"\r\n\r\n")[2])


def test_a_space_in_root_path_is_refused_with_the_advice_to_percent_encode_it():
    done = subprocess.run([sys.executable, "-m", "prefork", "--check-config", "--root-path", "/my app", "x:app"],
                          capture_output=True, text=True, env=python_env(), cwd=ROOT, timeout=30)
    assert done.returncode == 2
    assert "percent-encode it" in done.stderr, done.stderr


@pytest.mark.parametrize("threads", [1, 4])
def test_a_percent_encoded_root_path_mounts_the_app_at_its_decoded_path(tmp_path, threads):
    (tmp_path / "mounted.py").write_text(textwrap.dedent(APP))
    for root, cases in (
            ("/my%20app", [(b"/my%20app/x", ["/my app", "/x"]), (b"/my%20app", ["/my app", ""]),
                           (b"/my%20appx", ["", "/my appx"]), (b"/other", ["", "/other"])]),
            ("/caf%C3%A9/", [(b"/caf%C3%A9/x%2Fy", ["/caf\xc3\xa9", "/x/y"]), (b"/caf%c3%a9", ["/caf\xc3\xa9", ""])])):
        d = Daemon("--app-dir", str(tmp_path), "--interface", "wsgi", "--threads", str(threads), "--root-path", root,
                   app="mounted:app", workers=1)
        try:
            d.wait_ready()
            for path, expected in cases:
                assert _environ(d.port, path) == expected, (root, path)
        finally:
            d.cleanup()
