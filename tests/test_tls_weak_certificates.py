"""Certificates below OpenSSL's security level as an operator meets them: a 1024-bit RSA
server key, a SHA-1 signature, a 1024-bit CA in the chain. Python's ssl checks them at
level 2 (Node at 1): the configuration error names the certificate and what is weak in
it (never the key file as "no usable private key"), exit 2; and ``ciphers`` with an
``@SECLEVEL=1`` lets a 1024-bit certificate load and be served, as Node serves it."""

import socket
import ssl
import subprocess
import sys

import pytest

from daemon import Daemon, python_env
from debian import ensure
from harness import read_until_close


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def weak(tmp_path_factory):
    found, why = ensure("openssl", "openssl")
    assert found is not None, why
    d = tmp_path_factory.mktemp("weak")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=weak test ca", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", "small-ca.key", "-out", "small-ca.pem",
             "-days", "2", "-subj", "/CN=weak test small ca", cwd=d)
    for name, bits in (("small", 1024), ("good", 2048)):
        _openssl("req", "-new", "-newkey", f"rsa:{bits}", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", "/CN=localhost", cwd=d)
    for out, csr, ca, digest in (("small.pem", "small", "ca", "-sha256"), ("sha1.pem", "good", "ca", "-sha1"),
                                 ("under-small-ca.pem", "good", "small-ca", "-sha256")):
        _openssl("x509", "-req", "-in", f"{csr}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-set_serial", "7",
                 "-days", "2", digest, "-extfile", "server.ext", "-out", out, cwd=d)
    (d / "chain.pem").write_text((d / "under-small-ca.pem").read_text() + (d / "small-ca.pem").read_text())
    return d


@pytest.mark.parametrize("cert, key, words", [
    ("small.pem", "small.key", "the server certificate's key is too small (RSA needs 2048 bits)"),
    ("sha1.pem", "good.key", "a certificate is signed with a digest too weak (SHA-1 or MD5)"),
    ("chain.pem", "good.key", "a CA certificate in the chain has a key too small (RSA needs 2048 bits)"),
])
def test_a_weak_certificate_is_named_as_such(weak, cert, key, words):
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--certfile", str(weak / cert),
                          "--keyfile", str(weak / key)], capture_output=True, text=True, env=python_env(),
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert f"argv:--certfile: {weak / cert}: {words} for OpenSSL's security level 2" in out.stderr, out.stderr
    assert "usable private key" not in out.stderr and "--keyfile" not in out.stderr, out.stderr


def test_a_1024_bit_certificate_is_served_at_the_level_ciphers_names(weak):
    d = Daemon("--certfile", str(weak / "small.pem"), "--keyfile", str(weak / "small.key"),
               "--ciphers", "DEFAULT:@SECLEVEL=1", app="apps.tls_app:setup", workers=1)
    try:
        d.wait_ready()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("DEFAULT:@SECLEVEL=1")
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=20)
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(sock)
            served = sock.getpeercert(binary_form=True)
        assert data.startswith(b"HTTP/1.1 200 OK"), data
        assert served == ssl.PEM_cert_to_DER_cert((weak / "small.pem").read_text())
    finally:
        d.cleanup()
