"""Mutual TLS as a client holding several certificates meets it: the server's certificate
request names the CAs of ``ca_certs`` (as Node's https server and nginx's name them), so
the client can offer the certificate they issued. Real daemons, ``openssl s_client`` as
the client, TLS 1.2 and 1.3; the mutual handshake still verifies (alice is authorized,
mallory's CA is refused)."""

import json
import re
import socket
import ssl
import subprocess

import pytest

from daemon import Daemon
import test_hostile_net_tls
from test_hostile_net_tls import client_context

pki = test_hostile_net_tls.pki  # the module's fixture: a CA, the server's certificate, alice and mallory


@pytest.fixture(scope="module", params=["optional", "required"])
def mtls_daemon(request, pki):
    d = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--ca-certs", pki.ca,
               "--verify-client", request.param, app="apps.tls_app:setup", workers=1)
    try:
        d.wait_ready()
        yield d
    finally:
        d.cleanup()


def named_cas(port, version):
    """The CA names the server's certificate request gave ``openssl s_client``."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version],
                         input=b"", capture_output=True, timeout=30).stdout.decode(errors="replace")
    assert "Server certificate" in out, out  # the handshake itself went through
    if "No client certificate CA names sent" in out:
        return []
    found = re.search(r"Acceptable client certificate CA names\n((?:.+\n)+?)(?:Client Certificate Types|"
                      r"Requested Signature)", out)
    assert found is not None, out
    return found[1].splitlines()


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_the_certificate_request_names_the_client_cas(mtls_daemon, version):
    assert named_cas(mtls_daemon.port, version) == ["CN = hostile test ca"]


def served(port, context):
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        sock = context.wrap_socket(raw, server_hostname="localhost")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return json.loads(data.partition(b"\r\n\r\n")[2])
    finally:
        raw.close()


def test_client_certificates_are_still_verified(mtls_daemon, pki):
    answer = served(mtls_daemon.port, client_context(pki, cert=pki.alice))
    assert answer["authorized"] is True and answer["peer_cn"] == "alice"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        served(mtls_daemon.port, client_context(pki, cert=pki.mallory))
