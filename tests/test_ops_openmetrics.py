"""/metrics in OpenMetrics when the scraper asks for it, as prometheus_client's own
exposition does: the Accept header a real Prometheus sends (captured from Debian's
``prometheus`` scraping a listener of the test) gets ``application/openmetrics-text``,
which prometheus_client's OpenMetrics parser reads back to the same samples as the
classic text, and which that Prometheus ingests; any other Accept gets the classic
text format. Real daemon, real Prometheus on loopback; every process is killed by PID
at the end."""

import shutil
import socket
import threading

import pytest

import debian
from daemon import Daemon, wait_until
from harness import read_until_close
from test_prometheus import PROMETHEUS, Prometheus

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@pytest.fixture(scope="module")
def prometheus_binary():
    path, why = debian.ensure(PROMETHEUS, "prometheus")
    assert path is not None, why
    return path


def get_metrics(port, accept=None):
    """(head text, body text) of GET /metrics with that Accept header (none when None)."""
    extra = f"Accept: {accept}\r\n" if accept is not None else ""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode())
        data = read_until_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return head.decode("latin-1"), body.decode()


def content_type(head):
    return next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("content-type:"))


def samples(families):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def counters_of(families):
    return {f.name: f.type for f in families}


def prometheus_accept(binary, tmp):
    """The Accept header Debian's Prometheus sends when it scrapes (a listener of the
    test as its target, answering the classic text)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(20)
    seen = []

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            seen.append(data.decode("latin-1"))
            body = b"# TYPE probe gauge\nprobe 1\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    thread = threading.Thread(target=serve)
    thread.start()
    prom = None
    try:
        prom = Prometheus(binary, tmp, {"probe": listener.getsockname()[1]})
        thread.join(25)
    finally:
        listener.close()
        if prom is not None:
            prom.stop()
        thread.join(25)
    assert seen, "Prometheus never scraped the test's listener"
    return next(line.split(":", 1)[1].strip() for line in seen[0].split("\r\n") if line.lower().startswith("accept:"))


def test_openmetrics_when_asked_read_back_by_prometheus_client_and_by_prometheus(prometheus_binary, tmp_path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
    from prometheus_client.parser import text_string_to_metric_families as parse_text

    (tmp_path / "capture").mkdir()
    accept = prometheus_accept(prometheus_binary, str(tmp_path / "capture"))
    assert "application/openmetrics-text" in accept, accept
    d = Daemon(app="apps.basic:setup", workers=1)
    prom = None
    try:
        d.wait_ready()
        for _ in range(3):
            assert d.request("/").startswith(b"HTTP/1.1 200 ")
        wait_until(lambda: d.scrape().get(("prefork_requests_total", (("code", "200"), ("method", "GET")))) == 3, 10,
                   what="three requests counted")
        port = d.metrics_port()

        head, om_text = get_metrics(port, accept)
        assert content_type(head) == OPENMETRICS, head
        assert "vary: accept" in head.lower(), head
        assert om_text.endswith("# EOF\n"), om_text[-200:]
        om = list(parse_openmetrics(om_text))  # raises on anything OpenMetrics does not allow
        head, classic_text = get_metrics(port)
        assert content_type(head).startswith("text/plain; version=0.0.4"), head
        classic = list(parse_text(classic_text))
        assert counters_of(om) == counters_of(classic)
        assert "# TYPE prefork_requests counter" in om_text and "# EOF" not in classic_text
        # the same samples, but those that may move between two scrapes (a heartbeat between)
        moving = ("process_", "prefork_worker_", "prefork_connections_active")
        om_samples = {k: v for k, v in samples(om).items() if not k[0].startswith(moving)}
        assert om_samples == {k: v for k, v in samples(classic).items() if not k[0].startswith(moving)}
        assert om_samples[("prefork_requests_total", (("code", "200"), ("method", "GET")))] == 3

        for other in ("text/plain;version=0.0.4", "*/*", "application/openmetrics-text;q=0",
                      "application/json, text/plain;q=0.5", ""):
            head, text = get_metrics(port, other)
            assert content_type(head).startswith("text/plain; version=0.0.4"), (other, head)
            list(parse_text(text))
        head, _ = get_metrics(port, "text/plain;q=0.5, Application/OpenMetrics-Text; version=0.0.1; q=0.75")
        assert content_type(head) == OPENMETRICS, head

        # a real Prometheus scrapes the daemon (asking for OpenMetrics) and ingests every sample
        prom = Prometheus(prometheus_binary, str(tmp_path), {"prefork": port})
        wait_until(lambda: prom.value('up{job="prefork"}') == 1, 20, interval=0.1, what="the daemon scraped")
        assert prom.value('prefork_requests_total{job="prefork",method="GET",code="200"}') == 3
        assert prom.value('prefork_request_duration_seconds_bucket{job="prefork",le="+Inf"}') == 3
        assert prom.value('prefork_workers{job="prefork"}') == 1
    finally:
        if prom is not None:
            prom.stop()
        d.cleanup()
        shutil.rmtree(str(tmp_path), ignore_errors=True)


@pytest.mark.parametrize("accept, openmetrics", [
    ("application/openmetrics-text; version=1.0.0", True),
    ("APPLICATION/OPENMETRICS-TEXT", True),
    ("text/plain, application/openmetrics-text;q=0.1", True),
    ("application/openmetrics-text;q=0", False),
    ("application/openmetrics-text;q=zero", False),
    ("application/openmetrics-textx", False),
    ("text/plain; version=0.0.4", False),
    (None, False),
    ("", False),
])
def test_accept_negotiation(accept, openmetrics):
    from prefork.exposition import negotiate

    assert negotiate(accept) is openmetrics
