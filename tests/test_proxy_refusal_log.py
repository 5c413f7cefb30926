"""A connection refused on a PROXY listener is logged, as nginx logs its "broken
header ... while reading PROXY protocol" and HAProxy its PROXY errors: a warning naming
the peer and why (a client skipping the balancer, a balancer not in
``proxy_allow_ips``, a header that never ends), at most one line per reason per
``LOG_EVERY`` seconds so that a flood costs the counter only. A peer that connects and
closes (a TCP health check) is not logged. prefork only counted them: a balancer
configured without ``send-proxy`` got every connection closed and nothing in the log.
The worker lives on and keeps no descriptor of the refused connections."""

import os
import re
import socket

from daemon import Daemon, wait_until
from harness import read_until_close

LINE = r"PROXY protocol header refused \((\w+)\) from ([^:]+:\d+|\[[^\]]+\]:\d+): (.*)"


def refusals(daemon):
    return re.findall(LINE, daemon.log())


def errors(daemon, reason):
    return daemon.scrape().get(("prefork_proxy_protocol_errors_total", (("reason", reason),)), 0.0)


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_refused_headers_are_logged_once_per_period():
    daemon = Daemon("--proxy-protocol", "--proxy-protocol-timeout", "0.3", app="apps.fleet:v1", workers=1)
    try:
        daemon.wait_ready()
        [worker] = daemon.workers()
        before = fds(worker)
        assert daemon.request("/") == b""  # plain HTTP, no header
        wait_until(lambda: errors(daemon, "invalid") == 1.0, 10, what="the refusal counted")
        [(reason, peer, detail)] = refusals(daemon)
        assert reason == "invalid" and peer.startswith("127.0.0.1:")
        assert "not a PROXY protocol header (starts with b'GET / HT')" in detail
        assert daemon.request("/") == b""  # a second one in the same period: counted, not logged
        wait_until(lambda: errors(daemon, "invalid") == 2.0, 10, what="the second refusal counted")
        assert len(refusals(daemon)) == 1
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as sock:
            sock.sendall(b"PROXY TCP4 192.0.2.1")  # a header that never ends
            assert read_until_close(sock) == b""
        wait_until(lambda: errors(daemon, "timeout") == 1.0, 10, what="the timeout counted")
        timeouts = [r for r in refusals(daemon) if r[0] == "timeout"]
        assert len(timeouts) == 1 and "no whole header in 0.3 s (20 bytes of one came)" in timeouts[0][2]
        socket.create_connection(("127.0.0.1", daemon.port), timeout=5).close()  # a health check's connect
        wait_until(lambda: errors(daemon, "closed") == 1.0, 10, what="the close counted")
        assert [r[0] for r in refusals(daemon)] == ["invalid", "timeout"]
        assert daemon.workers() == [worker] and fds(worker) == before
        assert "Traceback" not in daemon.log()
    finally:
        daemon.cleanup()


def test_an_untrusted_balancer_is_logged():
    daemon = Daemon("--proxy-protocol", "--proxy-allow-ips", "192.0.2.1", app="apps.fleet:v1", workers=1)
    try:
        daemon.wait_ready()
        assert daemon.request("/") == b""
        wait_until(lambda: errors(daemon, "untrusted") == 1.0, 10, what="the refusal counted")
        [(reason, peer, detail)] = refusals(daemon)
        assert (reason, detail) == ("untrusted", "not in proxy_allow_ips") and peer.startswith("127.0.0.1:")
    finally:
        daemon.cleanup()
