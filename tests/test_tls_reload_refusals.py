"""A HUP may not change what a listener speaks: a ``bind`` entry without a scheme speaks
TLS when ``certfile`` is set, so a configuration that drops (or adds) ``certfile`` would
turn it into plain HTTP (or HTTPS) on the same port. Like a change of ``bind``, that
needs a restart: the reload is refused, logged with its reason and counted, and the old
generation serves on."""

import json
import re
import signal
import socket
import urllib.request

from daemon import alive
from test_tls import SERVER_SERIAL, client_context, connect, get, pki  # noqa: F401  (pki: a fixture)

PLAIN = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def _status(daemon):
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.metrics_port()}/status.json", timeout=5) as response:
        return json.load(response)["master"]


def _plain(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(PLAIN)
        return sock.recv(65536)


def _tls_config(pki):  # noqa: F811
    return f'certfile = "{pki.cert}"\nkeyfile = "{pki.key}"\n'


def test_a_hup_that_drops_certfile_is_refused_and_tls_goes_on(daemons, pki, tmp_path):  # noqa: F811
    config = tmp_path / "prefork.toml"
    config.write_text(_tls_config(pki))
    daemon = daemons("--config", str(config), app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    before = daemon.wait_workers(1)
    config.write_text("# certfile removed by mistake\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_log(r"reload refused")
    log = daemon.log()
    assert re.search(rf"reload: 127\.0\.0\.1:{daemon.port} \(fd://\d+\) would change from TLS to plain HTTP "
                     r"\(certfile is no longer set\): that needs a restart \(or USR2\)", log), log
    assert "reload refused (1 problem, above)" in log and "starting generation 2" not in log
    master = _status(daemon)
    assert master["reload_failures"] == 1 and master["generation"] == 1, master
    assert "would change from TLS to plain HTTP" in master["last_reload_error"]
    assert alive(daemon.pid) and daemon.serving_workers() == before
    with connect(daemon.port, client_context(pki)) as sock:  # still TLS, the same certificate
        assert sock.getpeercert()["serialNumber"] == SERVER_SERIAL
        _, body = get(sock, close=True)
    assert json.loads(body)["encrypted"] is True


def test_a_hup_that_adds_certfile_is_refused_and_plain_http_goes_on(daemons, pki, tmp_path):  # noqa: F811
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 1\n")
    daemon = daemons("--config", str(config), "--bind", "http://127.0.0.1:0", app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    config.write_text("workers = 1\n" + _tls_config(pki))
    daemon.signal(signal.SIGHUP)
    daemon.wait_log(r"reload refused")
    log = daemon.log()
    assert f"127.0.0.1:{daemon.port} (fd://" in log and "would change from plain HTTP to TLS (certfile is now " \
        "set): that needs a restart (or USR2)" in log, log
    assert "(http://127.0.0.1:0) would change" not in log  # its scheme says what it speaks
    assert "and 1 more" not in log
    assert _status(daemon)["reload_failures"] == 1
    answer = _plain(daemon.port)
    assert answer.startswith(b"HTTP/1.1 200 OK") and json.loads(answer.partition(b"\r\n\r\n")[2])["encrypted"] is False


def test_a_hup_that_keeps_certfile_set_still_reloads(daemons, pki, tmp_path):  # noqa: F811
    config = tmp_path / "prefork.toml"
    config.write_text(_tls_config(pki))
    daemon = daemons("--config", str(config), app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    config.write_text(f'certfile = "{pki.cert2}"\nkeyfile = "{pki.key2}"\n')
    daemon.signal(signal.SIGHUP)
    daemon.wait_log(r"reload: generation 2 ready")
    assert "would change" not in daemon.log()
