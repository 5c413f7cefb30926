"""``*:PORT`` as a bind or metrics_bind address: nginx, Apache and uvicorn mean every
interface by it, gunicorn refuses it, and glibc's getaddrinfo resolves ``*`` as no name,
the loopback address. The daemon used to bind 127.0.0.1 alone: the service an operator
meant to open to the network (or the metrics meant for a remote Prometheus) answered on
loopback only. It is refused with exit status 2 and what to write instead.

Real daemons started from the command line and from a configuration file; every
process is waited for, and killed by PID when it outlives its check."""

import signal
import subprocess
import sys

import pytest

from daemon import python_env

HINT = ("* is no host here (it would bind the loopback address alone): write 0.0.0.0:{port} for every IPv4 "
        "interface, or [::]:{port} for IPv6 and IPv4")


def prefork(args, cwd):
    """The exit status and stderr of ``prefork ARGS``; a daemon that starts is stopped (TERM, then KILL)."""
    proc = subprocess.Popen([sys.executable, "-m", "prefork", *args], cwd=cwd, env=python_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        return None, err
    return proc.returncode, err


@pytest.mark.parametrize("command", [[], ["check-config"]], ids=["start", "check-config"])
@pytest.mark.parametrize("key, flag", [("bind", "--bind"), ("metrics_bind", "--metrics-bind")])
def test_a_star_host_is_refused_with_the_address_for_every_interface(tmp_path, command, key, flag):
    other = ["--metrics-bind", "127.0.0.1:0"] if key == "bind" else ["--bind", "127.0.0.1:0"]
    status, err = prefork([*command, flag, "*:0", *other, "--workers", "1", "--access-log", "",
                           "--timeout", "5"], tmp_path)
    assert status == 2, err
    assert f"argv:{flag}: *:0: {HINT.format(port=0)}" in err.splitlines(), err
    assert "Traceback" not in err, err


def test_a_star_host_in_the_file_names_the_file_and_key_and_an_https_scheme_is_no_way_round(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('bind = ["127.0.0.1:0", "https://*:8443"]\nmetrics_bind = "http://*:9464"\n'
                      'workers = 1\naccess_log = ""\n')
    status, err = prefork(["check-config", "-c", str(config)], tmp_path)
    assert status == 2, err
    lines = err.splitlines()
    assert f"{config}:bind: *:8443: {HINT.format(port=8443)}" in lines, err
    assert f"{config}:metrics_bind: *:9464: {HINT.format(port=9464)}" in lines, err


@pytest.mark.parametrize("address", [":0", "0.0.0.0:0"])
def test_an_empty_host_still_means_every_ipv4_interface_as_gunicorn_takes_it(tmp_path, address):
    status, err = prefork(["check-config", "--bind", address, "--metrics-bind", "127.0.0.1:0"], tmp_path)
    assert status == 0, err
