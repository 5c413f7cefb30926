"""TLS files that are not regular files: a FIFO as ``certfile``, ``keyfile`` or
``ca_certs`` is a configuration error (exit 2), never a wait. Opening a FIFO waits for
a writer: at start the master hung before it said anything, and at a HUP (the master
checks the new configuration itself) the master's loop stopped for good: no probe
answered, no worker replaced, no signal handled."""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest

import test_tls
from daemon import ROOT, alive, python_env
from test_tls import client_context, connect, get

pki = test_tls.pki  # (a fixture: a CA and the server's certificate and key)


@pytest.mark.parametrize("setting", ["certfile", "keyfile", "ca_certs"])
def test_a_fifo_for_a_tls_file_is_a_config_error_not_a_hang(pki, tmp_path, setting):
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    files = {"certfile": pki.cert, "keyfile": pki.key}
    files[setting] = str(fifo)
    args = ["--certfile", files["certfile"], "--keyfile", files["keyfile"]]
    if setting == "ca_certs":
        args += ["--ca-certs", str(fifo), "--verify-client", "required"]
    try:
        done = subprocess.run([sys.executable, "-m", "prefork", "--app", "apps.tls_app:setup",
                               "--bind", "https://127.0.0.1:0", *args, "--check-config"],
                              cwd=ROOT, env=python_env(), capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:  # (run() kills the child it started)
        pytest.fail(f"check-config waited on a FIFO given as {setting}")
    flag = "--" + setting.replace("_", "-")
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert f"argv:{flag}: {fifo}: not a regular file (a FIFO or a device)" in done.stderr, done.stderr


def test_a_hup_that_finds_a_fifo_for_the_certificate_is_refused_and_the_master_goes_on(
        daemons, pki, tmp_path):
    cert = tmp_path / "server.pem"
    shutil.copy(pki.cert, cert)
    config = tmp_path / "prefork.toml"
    config.write_text(f'certfile = "{cert}"\nkeyfile = "{pki.key}"\n')
    daemon = daemons("--config", str(config), app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    before = daemon.wait_workers(1)
    cert.unlink()
    os.mkfifo(cert)  # (nobody writes to it)
    daemon.signal(signal.SIGHUP)
    daemon.wait_log(r"reload refused|reload failed|not a regular file", timeout=15)
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.metrics_port()}/status.json", timeout=10) as response:
        master = json.load(response)["master"]
    assert master["reload_failures"] == 1 and master["generation"] == 1, master
    assert "not a regular file" in master["last_reload_error"], master
    assert alive(daemon.pid) and daemon.serving_workers() == before
    with connect(daemon.port, client_context(pki)) as sock:  # the old generation serves on
        head, _ = get(sock, close=True)  # (a 200, or it raises)
    assert head.startswith(b"HTTP/1.1 200 ")
