"""The ASGI TLS extension (``scope["extensions"]["tls"]``) on a real mTLS daemon: certificates
made here with the openssl command; Python's ssl client, curl --cert, and a WebSocket."""

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import types

import pytest

from daemon import read_response, scratch_dir
from debian import ensure
from prefork.asgi.tls import cipher_suite, served_certificate, subject_name
from prefork.net.tlsconfig import build_context

# a subject with what RFC 4514 escapes, a multi-valued RDN, a registered name beside the
# table's and an OID that has none (its value goes as #BER hex)
RICH_SUBJECT = ("/C=DE/O=Example, Inc./OU=R\\+D;<x>=\"q\"/CN=#alice é+UID=a1/emailAddress=alice@example.com"
                "/1.3.6.1.4.1.311.60.2.1.3=DE/serialNumber=42 ")


def _openssl(*args, cwd):
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60).stdout


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and localhost, a client certificate with
    a plain subject (CN=alice) and one with a rich subject, both from the CA."""
    path, why = ensure("openssl", "openssl")
    assert path is not None, why  # (a comparison skipped would prove nothing)
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=prefork test ca", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject, ext in (("server", "/CN=localhost", "server.ext"), ("server2", "/CN=renewed", "server.ext"),
                               ("alice", "/CN=alice", "client.ext"),
                               ("rich", RICH_SUBJECT, "client.ext")):
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
                 "-multivalue-rdn", "-utf8", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "7",
                 "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    return types.SimpleNamespace(dir=d, ca=str(d / "ca.pem"), cert=str(d / "server.pem"), key=str(d / "server.key"),
                                 cert2=str(d / "server2.pem"), key2=str(d / "server2.key"),
                                 alice=(str(d / "alice.pem"), str(d / "alice.key")),
                                 rich=(str(d / "rich.pem"), str(d / "rich.key")))


@pytest.fixture(scope="module")
def mtls(pki):
    from daemon import Daemon
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--ca-certs", pki.ca, "--verify-client", "optional",
                    "--interface", "asgi", "--lifespan", "off", "--bind", "http://127.0.0.1:0",
                    app="apps.asgi_tls:app", workers=1)
    try:
        daemon.wait_ready()
        daemon.plain_port = int(daemon.wait_log(r"listening at 127\.0\.0\.1:(\d+) \(http://") and re.search(
            r"listening at 127\.0\.0\.1:(\d+) \(http://", daemon.log()).group(1))
        yield daemon
    finally:
        daemon.cleanup()


def pem_of(path):
    with open(path) as f:
        return ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(f.read()))


def context(pki, cert=None, max_version=None, ciphers=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def connect(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def get(sock):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head, body = read_response(sock, {"bytes": 0})
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


def test_python_client_certificate_reaches_the_scope(mtls, pki):
    with connect(mtls.port, context(pki, cert=pki.alice)) as sock:
        first, second = get(sock), get(sock)  # the second request: the connection's template
        version, cipher = sock.version(), sock.cipher()[0]
    assert first == second
    tls = first["tls"]
    assert first["keys"] == ["tls"] and first["scheme"] == "https"
    assert tls["server_cert"] == pem_of(pki.cert)
    assert tls["client_cert_chain"] == [pem_of(pki.alice[0])]
    assert tls["client_cert_name"] == "CN=alice"
    assert tls["client_cert_error"] is None
    assert version == "TLSv1.3" and tls["tls_version"] == 0x0304
    assert tls["cipher_suite"] == {"TLS_AES_256_GCM_SHA384": 0x1302, "TLS_AES_128_GCM_SHA256": 0x1301,
                                   "TLS_CHACHA20_POLY1305_SHA256": 0x1303}[cipher]


def test_tls12_version_and_cipher_numbers(mtls, pki):
    ctx = context(pki, cert=pki.alice, max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    with connect(mtls.port, ctx) as sock:
        tls = get(sock)["tls"]
    assert tls["tls_version"] == 0x0303
    assert tls["cipher_suite"] == 0xC02B  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (RFC 5289)


def test_no_client_certificate_gives_an_empty_chain_and_no_name(mtls, pki):
    with connect(mtls.port, context(pki)) as sock:
        tls = get(sock)["tls"]
    assert tls["client_cert_chain"] == [] and tls["client_cert_name"] is None
    assert tls["server_cert"] == pem_of(pki.cert) and tls["tls_version"] == 0x0304


def test_plain_listener_has_no_tls_extension(mtls):
    with socket.create_connection(("127.0.0.1", mtls.plain_port), timeout=10) as sock:
        info = get(sock)
    assert info["tls"] is None and info["keys"] == [] and info["scheme"] == "http"


def test_curl_client_certificate(mtls, pki):
    path, why = ensure("curl", "curl")
    assert path, why
    out = subprocess.run([path, "-sS", "--cacert", pki.ca, "--cert", pki.alice[0], "--key", pki.alice[1],
                          f"https://localhost:{mtls.port}/", "--resolve", f"localhost:{mtls.port}:127.0.0.1"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    tls = json.loads(out.stdout)["tls"]
    assert tls["client_cert_chain"] == [pem_of(pki.alice[0])] and tls["client_cert_name"] == "CN=alice"
    assert tls["server_cert"] == pem_of(pki.cert) and tls["tls_version"] == 0x0304
    assert tls["cipher_suite"] in (0x1301, 0x1302, 0x1303)


def rdns(name):
    """The RDNs of an RFC 4514 string, each as the set of its members (unordered, RFC 4514 2.2)."""
    return [frozenset(re.split(r"(?<!\\)\+", rdn)) for rdn in re.split(r"(?<!\\),", name)]


def test_rich_subject_is_written_as_rfc4514_says(mtls, pki):
    with connect(mtls.port, context(pki, cert=pki.rich)) as sock:
        tls = get(sock)["tls"]
    name = tls["client_cert_name"]
    # OpenSSL's RFC 2253 writing (UTF-8 kept) is the same but for an attribute without a
    # registered LDAP name, which RFC 4514 2.3/2.4 writes as its OID and its BER in hex
    expected = _openssl("x509", "-in", pki.rich[0], "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb",
                        cwd=pki.dir).decode().strip().removeprefix("subject=")
    assert rdns(name) == rdns(expected.replace("jurisdictionC=DE", "1.3.6.1.4.1.311.60.2.1.3=#13024445")), expected
    assert name == ('serialNumber=42\\ ,1.3.6.1.4.1.311.60.2.1.3=#13024445,emailAddress=alice@example.com,'
                    'CN=\\#alice \u00e9+UID=a1,OU=R\\+D\\;\\<x\\>=\\"q\\",O=Example\\, Inc.,C=DE')


def test_websocket_scope_has_the_tls_extension(mtls, pki):
    with connect(mtls.port, context(pki, cert=pki.alice)) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        while len(rest) < 4 or len(rest) < 4 + int.from_bytes(rest[2:4], "big"):
            chunk = sock.recv(65536)
            assert chunk, rest
            rest += chunk
    assert rest[0] == 0x81 and rest[1] == 126  # one text frame, 16-bit length
    info = json.loads(rest[4:4 + int.from_bytes(rest[2:4], "big")])
    assert info["scheme"] == "wss" and info["keys"] == ["tls", "websocket.http.response"]
    tls = info["tls"]
    assert tls["client_cert_chain"] == [pem_of(pki.alice[0])] and tls["client_cert_name"] == "CN=alice"
    assert tls["server_cert"] == pem_of(pki.cert) and tls["tls_version"] == 0x0304


def test_cipher_numbers_and_unreadable_names():
    assert cipher_suite("TLS_AES_128_GCM_SHA256") == 0x1301
    assert cipher_suite("ECDHE-RSA-AES256-GCM-SHA384") == 0xC030
    assert cipher_suite("no such cipher") is None
    assert subject_name(b"\x30\x03\x02\x01") is None  # cut DER: no name, no exception


def der(tag, *parts):
    body = b"".join(parts)
    n = len(body)
    size = (n.bit_length() + 7) // 8
    length = bytes([n]) if n < 0x80 else bytes([0x80 | size]) + n.to_bytes(size, "big")
    return bytes([tag]) + length + body


def certificate_with(*rdns):
    """A certificate's DER cut to what the subject is read from: the TBSCertificate's fields."""
    name = der(0x30, *(der(0x31, *(der(0x30, der(0x06, oid), value) for oid, value in rdn)) for rdn in rdns))
    tbs = der(0x30, der(0xA0, der(0x02, b"\x02")), der(0x02, b"\x07"), der(0x30), der(0x30), der(0x30), name)
    return der(0x30, tbs)


CN = b"\x55\x04\x03"  # 2.5.4.3


def test_subject_values_rfc4514_cannot_write_as_text_go_as_hex():
    assert subject_name(certificate_with()) == ""  # an empty subject is the empty string (RFC 4514 2.1)
    assert subject_name(certificate_with([(CN, der(0x0C, "é ".encode()))])) == "CN=é\\ "
    assert subject_name(certificate_with([(CN, der(0x0C, b"\xff"))])) == "CN=#0c01ff"  # not UTF-8
    assert subject_name(certificate_with([(CN, der(0x16, b"a\x80"))])) == "CN=#16026180"  # IA5 past ASCII
    assert subject_name(certificate_with([(CN, der(0x02, b"\x05"))])) == "CN=#020105"  # no string type
    assert subject_name(certificate_with([(CN, der(0x1E, "ü".encode("utf-16-be")))])) == "CN=ü"  # BMPString
    assert subject_name(certificate_with([(CN, der(0x0C, b"\x00x"))])) == "CN=\\00x"
    # RFC 4519 registers givenName (OpenSSL writes GN); pseudonym has no LDAP name: its OID and hex
    assert subject_name(certificate_with([(b"\x55\x04\x2a", der(0x0C, b"Al")), (b"\x55\x04\x41", der(0x0C, b"x"))])) \
        == "givenName=Al+2.5.4.65=#0c0178"
    # a value whose tag number takes more bytes ([APPLICATION 31] here) is its whole TLV in hex
    assert subject_name(certificate_with([(CN, b"\x5f\x1f\x01\x41")])) == "CN=#5f1f0141"
    long_value = "x" * 300  # a length in two bytes
    assert subject_name(certificate_with([(CN, der(0x0C, long_value.encode()))])) == "CN=" + long_value


def test_server_cert_is_the_one_sent_even_when_the_file_changed_or_is_root_only(daemons, pki):
    """The worker runs as nobody and cannot read the certificate (a root-only directory, as
    Let's Encrypt's archive is); the file is renewed on disk before any HUP and a new worker
    (max_requests) starts meanwhile: the scope names the certificate still being sent."""
    private = os.path.join(scratch_dir("asgi-tls-"), "private")
    os.mkdir(private, 0o700)
    cert, key = os.path.join(private, "cert.pem"), os.path.join(private, "key.pem")
    shutil.copy(pki.cert, cert)
    shutil.copy(pki.key, key)
    daemon = daemons("--certfile", cert, "--keyfile", key, "--user", "nobody", "--max-requests", "1",
                     "--interface", "asgi", "--lifespan", "off", app="apps.asgi_tls:app", workers=1)
    daemon.wait_ready()
    (first,) = daemon.wait_workers(1)

    def ask():
        with connect(daemon.port, context(pki)) as sock:
            sent = ssl.DER_cert_to_PEM_cert(sock.getpeercert(True))
            return sent, get(sock)["tls"]["server_cert"]
    assert ask() == (pem_of(pki.cert), pem_of(pki.cert))
    shutil.copy(pki.cert2, cert)  # renewed on disk; the daemon is not told
    shutil.copy(pki.key2, key)
    daemon.wait_workers(1, exclude=[first])  # the worker started after the first's one request
    assert ask() == (pem_of(pki.cert), pem_of(pki.cert))


@pytest.mark.parametrize("values", [{"verify_client": "required"}, {"tls_min_version": "TLSv1.3"},
                                    {"ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"}])
def test_served_certificate_whatever_the_context_asks(pki, values):
    ctx = build_context({"certfile": pki.cert, "keyfile": pki.key, "ca_certs": pki.ca, **values})
    assert served_certificate(ctx) == pem_of(pki.cert)


def test_what_an_app_writes_into_extensions_stays_in_its_request(daemons, pki):
    daemon = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--ca-certs", pki.ca, "--verify-client", "optional",
                     "--interface", "asgi", "--lifespan", "off", app="apps.asgi_tls:writer", workers=1)
    daemon.wait_ready()
    with connect(daemon.port, context(pki, cert=pki.alice)) as sock:
        first, second, third = get(sock), get(sock), get(sock)
    assert first == second == third
    assert first["keys"] == ["tls"] and first["tls"]["client_cert_chain"] == [pem_of(pki.alice[0])]
    assert first["tls"]["cipher_suite"] in (0x1301, 0x1302, 0x1303)
