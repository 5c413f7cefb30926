"""The TLS operator's journey with real clients: curl (version pins, ALPN offers), openssl
s_client (ALPN, SNI, session resumption, renegotiation), Node's https agent with
keep-alive, large bodies both ways checked by SHA-256, TLS on ::1 and on a UNIX path, a
burst of handshakes beside an established connection, clients that stall after the
handshake. Against one real daemon (tests/test_journey_net_tls.py's)."""

import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import threading

import pytest

from apps.journey_net import pattern
from daemon import wait_until
from debian import ensure
from test_hostile_net_tls import pki  # noqa: F401  (a fixture)
from test_journey_net_tls import (MB, curl, open_tls, read_framed, read_to_end, split_response,  # noqa: F401
                                  tls_daemon, worker_fine)


# -- real clients ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pins, version", [
    (["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"),
    (["--tlsv1.3"], "TLSv1.3"),
    (["--http1.1"], "TLSv1.3"),
    (["--http2"], "TLSv1.3"),
], ids=["tls1.2-only", "tls1.3", "http1.1", "offers-h2"])
def test_curl_with_version_pins_and_alpn_offers(tls_daemon, pki, pins, version):  # noqa: F811
    """curl offers ``h2,http/1.1`` by default (and with --http2): the server picks
    http/1.1, never h2, and the version curl pinned is the one used."""
    result = curl("--cacert", pki.ca, "--resolve", f"localhost:{tls_daemon.port}:127.0.0.1", *pins,
                  f"https://localhost:{tls_daemon.port}/", "-v")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["protocol"] == version and seen["alpn"] == "http/1.1", seen
    assert b"ALPN: server accepted http/1.1" in result.stderr or b"ALPN, server accepted" in result.stderr


def s_client(port, *args, stdin=b"", timeout=60):
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    return subprocess.run([path, "s_client", "-connect", f"127.0.0.1:{port}", *args], input=stdin,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize("alpn, chosen", [("h2", None), ("h2,http/1.1", "http/1.1"), ("spdy/3,h2c", None)],
                         ids=["h2-only", "h2-and-http1.1", "unknown"])
def test_alpn_never_selects_h2(tls_daemon, pki, alpn, chosen):  # noqa: F811
    """A client offering only protocols the server does not speak is refused with a
    no_application_protocol alert, as Node's and nginx's https servers refuse it; one
    that offers http/1.1 among others gets it, never h2."""
    result = s_client(tls_daemon.port, "-alpn", alpn, "-CAfile", pki.ca, "-servername", "localhost", "-ign_eof",
                      stdin=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = result.stdout.decode(errors="replace")
    if chosen is None:
        both = out + result.stderr.decode(errors="replace")
        assert "alert no application protocol" in both, both[-2000:]
        assert "HTTP/1.1 200 OK" not in out
        worker_fine(tls_daemon, pki)
    else:
        assert f"ALPN protocol: {chosen}" in out, out[-2000:]
        assert "HTTP/1.1 200 OK" in out


@pytest.mark.parametrize("name", ["other.example", "a" * 250, "xn--nxasmq6b.example"], ids=["other", "long", "idn"])
def test_sni_names_the_certificate_does_not_cover(tls_daemon, pki, name):  # noqa: F811
    """One certificate per listener: any SNI gets it (the client decides whether to trust
    it), the connection is served."""
    result = s_client(tls_daemon.port, "-servername", name, "-CAfile", pki.ca, "-ign_eof",
                      stdin=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = result.stdout.decode(errors="replace")
    assert "subject=CN = server" in out or "subject=CN=server" in out, out[-2000:]
    assert "HTTP/1.1 200 OK" in out
    worker_fine(tls_daemon, pki)


def test_openssl_reconnect_resumes_a_tls12_session(tls_daemon, pki):  # noqa: F811
    """``s_client -reconnect``: the first connection is new, the five after it resume.
    (On TLS 1.3 s_client reconnects before it reads the tickets, with Node's server as
    with this one; Python's client covers 1.3 above.)"""
    result = s_client(tls_daemon.port, "-tls1_2", "-reconnect", "-CAfile", pki.ca, "-servername", "localhost",
                      stdin=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    out = result.stdout.decode(errors="replace")
    kinds = re.findall(r"^(New|Reused), TLS", out, re.M)
    assert kinds[0] == "New" and kinds[1:] and set(kinds[1:]) == {"Reused"}, kinds


def test_client_initiated_renegotiation_is_refused_without_harm(tls_daemon, pki):  # noqa: F811
    """TLS 1.2 renegotiation asked by the client (s_client's ``R``) is refused with an
    alert; the worker does not spin, and a connection opened before goes on being served."""
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    with open_tls(tls_daemon.port, pki) as bystander:
        proc = subprocess.Popen([path, "s_client", "-connect", f"127.0.0.1:{tls_daemon.port}", "-tls1_2",
                                 "-CAfile", pki.ca, "-servername", "localhost"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = bytearray()

        def read_output():
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                out.extend(chunk)
        reader = threading.Thread(target=read_output)
        reader.start()
        try:
            proc.stdin.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            proc.stdin.flush()
            wait_until(lambda: b'"pid"' in out, 30, what="the first answer")
            before = cpu_ticks(tls_daemon.worker)
            proc.stdin.write(b"R\n")  # renegotiate
            proc.stdin.flush()
            proc.wait(60)  # the server's refusal ends it
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(10)
        assert b"RENEGOTIATING" in out and b"no renegotiation" in out, bytes(out[-2000:])
        bystander.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, how = read_to_end(bystander)
        assert split_response(data)[0].startswith(b"HTTP/1.1 200 OK") and how == "close_notify"
    assert cpu_ticks(tls_daemon.worker) - before < 100  # well under a second of CPU: no loop
    worker_fine(tls_daemon, pki)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_large_upload_and_download_keep_every_byte(tls_daemon, pki):  # noqa: F811
    """Tens of MB each way over one kept-alive TLS connection, checked by SHA-256."""
    upload = os.urandom(24 * MB)
    size = 32 * MB
    with open_tls(tls_daemon.port, pki, timeout=120) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(upload) + upload)
        head, body = read_framed(sock)
        assert body.decode() == f"{len(upload)} {hashlib.sha256(upload).hexdigest()}"
        sock.sendall(f"GET /big/{size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, body = read_framed(sock)
    assert len(body) == size and hashlib.sha256(body).digest() == hashlib.sha256(pattern(size)).digest()


NODE_AGENT = r"""
const https = require('https'), fs = require('fs');
const [port, ca] = [+process.argv[2], fs.readFileSync(process.argv[3])];
const agent = new https.Agent({keepAlive: true, maxSockets: 4, ca});
let done = 0, ok = 0; const sockets = new Set(), errors = [], N = 200;
for (let i = 0; i < N; i++) {
  https.get({host: '127.0.0.1', servername: 'localhost', port, path: i % 10 ? '/' : '/big/300000', agent}, res => {
    sockets.add(res.socket); let n = 0;
    res.on('data', c => n += c.length);
    res.on('end', () => { if (n === (i % 10 ? n : 300000)) ok++; finish(); });
  }).on('error', e => { errors.push(e.code || e.message); finish(); });
}
function finish() {
  if (++done === N) { console.log(JSON.stringify({ok, errors, sockets: sockets.size})); agent.destroy(); }
}
"""


def test_node_https_agent_with_keep_alive(tls_daemon, pki, tmp_path):  # noqa: F811
    path, why = ensure("node", "nodejs")
    if path is None:
        pytest.skip(why)
    script = tmp_path / "agent.js"
    script.write_text(NODE_AGENT)
    result = subprocess.run([path, str(script), str(tls_daemon.port), pki.ca], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome == {"ok": 200, "errors": [], "sockets": 4}, outcome


@pytest.mark.parametrize("where", ["ipv6", "unix"])
def test_tls_on_ipv6_loopback_and_on_a_unix_socket(tls_daemon, pki, where):  # noqa: F811
    if where == "ipv6":
        sock = open_tls(tls_daemon.v6_port, pki, family=socket.AF_INET6, host="::1")
    else:
        sock = open_tls(0, pki, family=socket.AF_UNIX, host=tls_daemon.unix_path)
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, how = read_to_end(sock)
    seen = json.loads(split_response(data)[1])
    assert seen["encrypted"] and how == "close_notify"
    assert seen["family"] == ("IPv6" if where == "ipv6" else None)


def test_a_burst_of_handshakes_does_not_stall_an_established_connection(tls_daemon, pki):  # noqa: F811
    """120 clients handshake at once on the one worker while a kept-alive connection goes
    on asking: every handshake completes and every request of the established connection
    is answered."""
    results, errors = [], []
    start = threading.Event()

    def one():
        start.wait(30)
        try:
            with open_tls(tls_daemon.port, pki, timeout=60) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data, how = read_to_end(sock)
                results.append((split_response(data)[0][:15], how))
        except (OSError, ssl.SSLError) as exc:
            errors.append(repr(exc))
    threads = [threading.Thread(target=one) for _ in range(120)]
    for thread in threads:
        thread.start()
    answered = 0
    with open_tls(tls_daemon.port, pki, timeout=60) as established:
        start.set()
        while any(thread.is_alive() for thread in threads) or answered < 3:
            established.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            head, body = read_framed(established)
            assert head.startswith(b"HTTP/1.1 200 OK")
            answered += 1
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:5]
    assert results == [(b"HTTP/1.1 200 OK", "close_notify")] * 120
    worker_fine(tls_daemon, pki)


# -- clients that finish the handshake and then stall ---------------------------------------------------
@pytest.mark.parametrize("then", [b"", b"\x17\x03\x03\x01\x00" + b"\x00" * 40], ids=["nothing", "half-a-record"])
def test_a_client_that_stalls_after_the_handshake_gets_the_headers_timeout(daemons, pki, then):  # noqa: F811
    """After the handshake the HTTP clock runs, as on a plain socket (Node's rule): silence
    or half a record is answered by an encrypted 408 at ``headers_timeout``, then the end
    of the stream."""
    d = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--headers-timeout", "1", "--request-timeout", "2",
                "--connections-checking-interval", "0.2", app="apps.journey_net:setup", workers=1)
    d.wait_ready()
    with open_tls(d.port, pki) as sock:
        if then:  # half a record, under the TLS object
            socket.socket.sendall(sock, then)
        data, how = read_to_end(sock)
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
    assert how == "close_notify"
