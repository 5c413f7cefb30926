"""A real load balancer honours /readyz: HAProxy (Debian's ``haproxy``, run by the test on
loopback, installed when missing) health-checks two daemons on their metrics port; one
is stopped with TERM under load and, thanks to ``readiness_withdraw``, HAProxy has taken
it out before its listen socket closes. HAProxy is told not to retry or redispatch, so a
single connection it sent to the stopping daemon after that would be an error."""

import signal
import socket
import subprocess
import threading
import time

import pytest

import debian
from daemon import alive, wait_until

CONFIG = """global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    # a check may take this long on a busy machine (without it, inter: 100 ms, and one slow
    # check takes the healthy server out too, fall 1); a 503 from /readyz fails at once
    timeout check 2s
    retries 0
    option http-server-close
frontend web
    bind fd@{fd}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 100ms fall 1 rise 2
{servers}
"""


@pytest.fixture(scope="module")
def haproxy_binary():
    path, why = debian.ensure("haproxy", "haproxy")
    if path is None:
        pytest.skip(why)
    return path


def get(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_haproxy_takes_a_stopping_daemon_out_before_it_stops_accepting(daemons, haproxy_binary, tmp_path):
    a = daemons("--readiness-withdraw", "2", workers=1)
    b = daemons("--readiness-withdraw", "2", workers=1)
    for d in (a, b):
        d.wait_ready()
    a_worker, = a.wait_workers(1)
    b_worker, = b.wait_workers(1)
    front = socket.socket()
    front.bind(("127.0.0.1", 0))
    front.listen(128)
    port = front.getsockname()[1]
    servers = "\n".join(f"    server {name} 127.0.0.1:{d.port} check port {d.metrics_port()}"
                        for name, d in (("a", a), ("b", b)))
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG.format(fd=front.fileno(), servers=servers))
    with open(tmp_path / "haproxy.log", "wb") as log:
        proxy = subprocess.Popen([haproxy_binary, "-db", "-f", str(config)], stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, pass_fds=(front.fileno(),))
    front.close()
    results, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                results.append((time.monotonic(), get(port)))
            except OSError as exc:
                results.append((time.monotonic(), repr(exc).encode()))
    threads = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    try:
        # both daemons serve through the proxy (a server is up after two good checks)
        wait_until(lambda: {f"pid {p}".encode() for p in (a_worker, b_worker)} <= {body.rpartition(b"\r\n\r\n")[2]
                   for body in (get(port) for _ in range(4))}, 30, interval=0.1, what="both servers up")
        for thread in threads:
            thread.start()
        wait_until(lambda: len(results) > 50, 30, what="load through the proxy")
        a.signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        assert a.wait_exit(30) == 0
        wait_until(lambda: len([t for t, _ in results if t > stopped_at + 3]) > 20, 30, what="load after the stop")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        proxy.kill()
        proxy.wait(10)
    assert not alive(proxy.pid)
    failed = [(t - stopped_at, body[:80]) for t, body in results if not body.startswith(b"HTTP/1.1 200 OK")]
    assert failed == [], failed[:5]
    served_by_a_after = [t for t, body in results if t > stopped_at + 2.5 and body.endswith(f"pid {a_worker}".encode())]
    assert served_by_a_after == []  # a's socket closed after 2 s; everything after went to b
    assert any(t > stopped_at + 2.5 and body.endswith(f"pid {b_worker}".encode()) for t, body in results)
