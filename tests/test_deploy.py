"""deploy/: the files an operator copies, checked for the fields that matter and, where a
real peer can run them here, run.

- haproxy.cfg: valid for Debian's HAProxy (``haproxy -c``) and carrying what the
  multi-host bed relies on (tests/test_multihost.py runs it);
- nginx.conf: Debian's nginx runs it as it is (only the marked lines changed) on
  loopback in front of a real daemon: the WSGI app sees the client's address, and a
  reload (HUP) under keep-alive load through nginx fails no request;
- prometheus.yml: ``promtool check config`` and one metrics target per host;
- kubernetes/prefork.yaml: the probes on the operations endpoints, the preStop wait,
  the grace period above preStop + readiness_withdraw + graceful_timeout, the Service
  and PodMonitor selecting the pods, and a ConfigMap that ``prefork check-config``
  accepts.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tomllib

import pytest
import yaml

import debian
from daemon import ROOT, Daemon, Load, alive, children, python_env, wait_until
from harness import read_until_close
from prefork.settings import BY_NAME

DEPLOY = os.path.join(ROOT, "deploy")


def directives(path):
    """The file's lines without comments and surrounding blanks."""
    with open(path) as fh:
        return [line.split("#", 1)[0].strip() for line in fh if line.split("#", 1)[0].strip()]


# -- HAProxy -----------------------------------------------------------------------------------------
def test_haproxy_config_checks_readiness_sends_proxy_v2_and_retries_only_what_may_be_repeated():
    path, why = debian.ensure("/usr/sbin/haproxy", "haproxy")
    if path is None:
        pytest.skip(why)
    config = os.path.join(DEPLOY, "haproxy.cfg")
    result = subprocess.run([path, "-c", "-f", config], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = directives(config)
    assert "option httpchk GET /readyz" in lines
    assert "http-check expect status 200" in lines
    default_server = next(line for line in lines if line.startswith("default-server"))
    for word in ("check", "port 9464", "send-proxy-v2", "inter 500ms", "fall 2", "rise 2"):
        assert f" {word}" in default_server, word
    assert "retry-on conn-failure empty-response response-timeout" in lines
    assert "http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS" in lines
    assert "option redispatch 1" in lines and "option http-server-close" in lines
    assert [line.split()[2] for line in lines if line.startswith("server ")] == \
        ["10.0.0.10:8000", "10.0.0.11:8000", "10.0.0.12:8000"]


# -- Prometheus ---------------------------------------------------------------------------------------
def test_prometheus_config_is_valid_and_scrapes_each_hosts_metrics_listener():
    with open(os.path.join(DEPLOY, "prometheus.yml")) as fh:
        config = yaml.safe_load(fh)
    job, = config["scrape_configs"]
    assert job["job_name"] == "prefork" and job["metrics_path"] == "/metrics"
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert len(targets) == len(set(targets)) == 3
    assert all(t.endswith(":9464") for t in targets)
    path, why = debian.ensure("/usr/bin/promtool", "prometheus")
    if path is None:
        pytest.skip(why)
    result = subprocess.run([path, "check", "config", os.path.join(DEPLOY, "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- Kubernetes ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifests():
    with open(os.path.join(DEPLOY, "kubernetes", "prefork.yaml")) as fh:
        documents = [d for d in yaml.safe_load_all(fh) if d]
    by_kind = {d["kind"]: d for d in documents}
    assert sorted(by_kind) == ["ConfigMap", "Deployment", "PodMonitor", "Service"]
    return by_kind


def container_of(deployment):
    container, = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_kubernetes_probes_use_readyz_and_healthz_on_the_metrics_port(manifests):
    container = container_of(manifests["Deployment"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    settings = tomllib.loads(manifests["ConfigMap"]["data"]["prefork.toml"])
    assert ports["metrics"] == int(settings["metrics_bind"].rsplit(":", 1)[1])
    assert ports["http"] == int(settings["bind"][0].rsplit(":", 1)[1])
    assert settings["metrics_bind"].startswith("0.0.0.0:")  # the kubelet probes the pod's address
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert liveness["httpGet"] == {"path": "/healthz", "port": "metrics"}
    # the liveness probe gives the master's own supervision (timeout) the first go
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > settings.get("timeout", BY_NAME["timeout"].default)


def test_kubernetes_shutdown_waits_for_withdrawal_and_outlasts_the_drain(manifests):
    deployment = manifests["Deployment"]
    container = container_of(deployment)
    settings = tomllib.loads(manifests["ConfigMap"]["data"]["prefork.toml"])
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    readiness = container["readinessProbe"]
    assert pre_stop >= readiness["periodSeconds"] * readiness["failureThreshold"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pre_stop + settings["readiness_withdraw"] + settings["graceful_timeout"] + 5
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_kubernetes_service_and_pod_monitor_select_the_pods(manifests):
    pod_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert manifests["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = manifests["Service"]["spec"]
    assert service["selector"].items() <= pod_labels.items()
    assert service["ports"][0]["targetPort"] == "http"
    monitor = manifests["PodMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    endpoint, = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"


def test_kubernetes_config_map_is_a_config_prefork_accepts(manifests, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text(manifests["ConfigMap"]["data"]["prefork.toml"])
    # the app named there is the operator's; a test app stands in for it
    result = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config),
                             "--app", "apps.fleet:wsgi"], capture_output=True, text=True, env=python_env(),
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert f"graceful_timeout = 20.0  # {config}:graceful_timeout" in result.stdout
    assert f"metrics_bind = \"0.0.0.0:9464\"  # {config}:metrics_bind" in result.stdout


# -- nginx on loopback -----------------------------------------------------------------------------------
class Nginx:
    """Debian's nginx in the foreground on a socket bound here (inherited through the
    NGINX environment variable, as nginx's own binary upgrade hands sockets over)."""

    def __init__(self, binary, tmp, upstream_port):
        self.tmp = tmp
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        site = []
        servers_done = False
        for line in open(os.path.join(DEPLOY, "nginx.conf")).read().splitlines():
            if line.endswith("# test: server"):
                if servers_done:
                    continue
                servers_done = True
                line = re.sub(r"server \S+", f"server 127.0.0.1:{upstream_port}", line)
            elif line.endswith("# test: listen"):
                line = f"    listen 127.0.0.1:{self.port};"
            site.append(line)
        with open(os.path.join(tmp, "site.conf"), "w") as fh:
            fh.write("\n".join(site) + "\n")
        main = os.path.join(tmp, "nginx.conf")
        with open(main, "w") as fh:
            fh.write(f"daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
                     f"events {{}}\nhttp {{\n    access_log off;\n"
                     + "".join(f"    {kind}_temp_path {tmp}/{kind};\n"
                               for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
                     + f"    include {tmp}/site.conf;\n}}\n")
        self.proc = subprocess.Popen([binary, "-c", main, "-p", tmp], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()],
                                     env=dict(os.environ, NGINX=f"{sock.fileno()};"))
        sock.close()
        wait_until(lambda: "start worker process" in self.log() or self.proc.poll() is not None, 20,
                   what="nginx started")
        assert self.proc.poll() is None, self.log()

    def log(self):
        try:
            with open(os.path.join(self.tmp, "error.log"), errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        pids = [self.proc.pid] + children(self.proc.pid)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)


def test_nginx_upstream_passes_the_client_and_a_reload_under_load_fails_nothing(tmp_path, capsys):
    binary, why = debian.ensure("/usr/sbin/nginx", "nginx-light")
    if binary is None:
        pytest.skip(why)
    daemon = Daemon("--interface", "wsgi", app="apps.fleet:wsgi", workers=2)
    proxy = None
    try:
        daemon.wait_ready()
        old = daemon.wait_workers(2)
        proxy = Nginx(binary, str(tmp_path), daemon.port)
        sock = socket.socket()
        sock.settimeout(10)
        sock.bind(("127.0.0.2", 0))
        sock.connect(("127.0.0.1", proxy.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: www\r\nConnection: close\r\n\r\n")
        response = read_until_close(sock)
        sock.close()
        assert response.startswith(b"HTTP/1.1 200 OK") and b"\r\nServer: nginx" in response, response
        # REMOTE_ADDR from X-Forwarded-For: nginx (127.0.0.1) is in forwarded_allow_ips
        assert re.search(rb"\r\n\r\nwsgi client=127\.0\.0\.2:\d*$", response), response

        load = Load(proxy.port, threads=4)
        try:
            load.wait_count(200)
            daemon.signal(signal.SIGHUP)
            daemon.wait_workers(2, timeout=30, exclude=old)
            # the old workers are gone once their idle upstream connections are: nginx
            # closes those first (keepalive_timeout 4s < prefork's 5 s + 1 s)
            wait_until(lambda: not any(alive(p) for p in old), 30, what="the old workers gone")
            load.wait_count(load.ok + 200)
        finally:
            load.stop()
        with capsys.disabled():
            print(f"\nnginx reload: {load.ok} requests, {len(load.failures)} failed, "
                  f"{load.retries} resent by the client")
        assert load.failures == []
        assert load.retries == 0
    finally:
        if proxy is not None:
            proxy.stop()
        daemon.cleanup()
