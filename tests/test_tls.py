"""TLS: certificates made here with the openssl command; real clients (openssl s_client,
curl, Python's ssl) against the real daemon, and the Server's TLS events in-process."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import types

import pytest

from daemon import Daemon, ProtocolError, python_env, read_response, wait_until
from debian import ensure

SERVER_SERIAL, NEW_SERIAL = "1001", "1002"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, two server certificates (serials 1001 and 1002) for 127.0.0.1 and localhost,
    a client certificate (CN alice) from the CA and one (CN mallory) from another CA."""
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                 "-subj", f"/CN=prefork test {ca}", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    leaves = (("server", "ca", SERVER_SERIAL, "localhost", "server.ext"),
              ("server2", "ca", NEW_SERIAL, "localhost", "server.ext"),
              ("alice", "ca", "2001", "alice", "client.ext"),
              ("mallory", "other-ca", "2002", "mallory", "client.ext"))
    for name, ca, serial, cn, ext in leaves:
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-set_serial", f"0x{serial}", "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    _openssl("ec", "-in", "server.key", "-aes256", "-passout", "pass:secret", "-out", "server.enc.key", cwd=d)
    return types.SimpleNamespace(
        ca=str(d / "ca.pem"), cert=str(d / "server.pem"), key=str(d / "server.key"), cert2=str(d / "server2.pem"),
        key2=str(d / "server2.key"), enc_key=str(d / "server.enc.key"),
        alice=(str(d / "alice.pem"), str(d / "alice.key")), mallory=(str(d / "mallory.pem"), str(d / "mallory.key")))


def client_context(pki, cert=None, max_version=None, alpn=("http/1.1",)):
    context = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        context.load_cert_chain(*cert)
    if max_version is not None:
        context.maximum_version = max_version
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def connect(port, context, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    except BaseException:
        raw.close()
        raise


def get(sock, path="/", close=False):
    """One request on ``sock``: the head and body of its 200."""
    extra = "Connection: close\r\n" if close else ""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
    head, body = read_response(sock, {"bytes": 0})
    return head, body


def tls_failures(daemon, code):
    return daemon.scrape().get(("prefork_tls_handshake_failures_total", (("code", code),)), 0)


def all_tls_failures(daemon):
    return sum(v for (name, _), v in daemon.scrape().items() if name == "prefork_tls_handshake_failures_total")


def closed_by_server(sock, timeout=15):
    """Read until the server closes (b"" or a reset); True when it did within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture(scope="module")
def shared(pki):
    """One daemon for the read-only checks: its inherited listener speaks TLS (certfile
    set, no scheme) and a plain http:// listener is beside it."""
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--tls-handshake-timeout", "1",
                    "--keep-alive-timeout", "30", "--bind", "http://127.0.0.1:0", app="apps.tls_app:setup", workers=1)
    try:
        daemon.wait_ready()
        match = daemon.wait_log(r"listening at 127\.0\.0\.1:(\d+) \(http://127\.0\.0\.1:0\)") and \
            re.search(r"listening at 127\.0\.0\.1:(\d+) \(http://127\.0\.0\.1:0\)", daemon.log())
        daemon.plain_port = int(match.group(1))
        # each listener's line says what it speaks
        assert re.search(r"listening at 127\.0\.0\.1:\d+ \(fd://\d+\): TLS\n", daemon.log()), daemon.log()
        assert re.search(r"listening at 127\.0\.0\.1:\d+ \(http://127\.0\.0\.1:0\)\n", daemon.log())
        yield daemon
    finally:
        daemon.cleanup()


# -- real clients ----------------------------------------------------------------------------
def test_openssl_s_client_negotiates_alpn_http11_and_tls13(shared, pki):
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{shared.port}", "-servername", "localhost",
                          "-CAfile", pki.ca, "-alpn", "h2,http/1.1", "-tls1_3", "-ign_eof"],
                         input=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                         capture_output=True, timeout=30)
    text = out.stdout.decode(errors="replace")
    assert "ALPN protocol: http/1.1" in text, text
    assert re.search(r"New, TLSv1\.3, Cipher is TLS_", text), text
    assert "Verify return code: 0 (ok)" in text, text
    assert "HTTP/1.1 200 OK" in text, text
    body = json.loads(text[text.index('{"pid"'):text.index("}", text.index('{"pid"')) + 1])
    assert body["encrypted"] is True and body["protocol"] == "TLSv1.3" and body["alpn"] == "http/1.1"


def test_curl_sends_two_requests_on_one_kept_alive_connection(shared, pki):
    curl, why = ensure("curl", "curl")
    if curl is None:
        pytest.skip(why)
    url = f"https://127.0.0.1:{shared.port}"
    out = subprocess.run([curl, "-sv", "--cacert", pki.ca, f"{url}/a", f"{url}/b"], capture_output=True,
                         timeout=30)
    err = out.stderr.decode(errors="replace")
    assert out.returncode == 0, err
    bodies = re.findall(rb'\{"pid".*?\}', out.stdout)
    assert len(bodies) == 2, out.stdout
    assert "Re-using existing connection" in err, err
    assert err.count("SSL connection using") == 1, err
    assert all(json.loads(b)["encrypted"] for b in bodies)


def test_curl_asking_for_http10_over_tls_is_served_as_nginx_serves_it(shared, pki):
    curl, why = ensure("curl", "curl")
    assert curl is not None, why
    out = subprocess.run([curl, "-sv", "--http1.0", "--cacert", pki.ca, f"https://127.0.0.1:{shared.port}/a"],
                         capture_output=True, timeout=30)
    err = out.stderr.decode(errors="replace")
    assert out.returncode == 0, err
    assert re.search(r"ALPN.*(server accepted|accepted).*http/1\.0", err), err
    assert json.loads(re.search(rb'\{"pid".*?\}', out.stdout).group())["alpn"] == "http/1.0"


def test_python_client_gets_responses_and_close_notify(shared, pki):
    with connect(shared.port, client_context(pki, alpn=("h2", "http/1.1"))) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        assert sock.getpeercert()["serialNumber"] == SERVER_SERIAL
        _, body = get(sock)
        info = json.loads(body)
        assert info["encrypted"] is True and info["alpn"] == "http/1.1" and info["protocol"] == sock.version()
        assert info["servername"] == "localhost"  # the SNI name the client sent (Node's socket.servername)
        assert info["authorized"] is False and info["peer_cn"] is None  # no client certificate asked for
        head, _ = get(sock, close=True)
        assert b"connection: close" in head.lower()
        # the server ends with close_notify: a ragged EOF would raise SSLEOFError here
        assert sock.recv(100) == b""


def test_pipelined_requests_in_one_record_and_a_request_in_many(shared, pki):
    with connect(shared.port, client_context(pki)) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")  # one record
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 2 or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        bodies = re.findall(rb'\{"pid".*?\}', data)
        assert len(bodies) == 2 and all(json.loads(b)["encrypted"] for b in bodies)
        for byte in b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n":  # one record per byte
            sock.sendall(bytes([byte]))
        assert json.loads(read_response(sock, {"bytes": 0})[1])["protocol"] == "TLSv1.3"


def test_tls12_client_is_served_when_the_minimum_is_tls12(shared, pki):
    with connect(shared.port, client_context(pki, max_version=ssl.TLSVersion.TLSv1_2)) as sock:
        _, body = get(sock)
        assert sock.version() == "TLSv1.2" and json.loads(body)["protocol"] == "TLSv1.2"


def test_a_large_response_goes_through_while_the_client_reads_slowly(shared, pki):
    with connect(shared.port, client_context(pki)) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert body == b"x" * (4 * 1024 * 1024)


def test_plain_listener_beside_the_tls_one(shared):
    sock = socket.create_connection(("127.0.0.1", shared.plain_port), timeout=10)
    with sock:
        _, body = get(sock)
        assert json.loads(body)["encrypted"] is False
    sock = socket.create_connection(("127.0.0.1", shared.port), timeout=10)
    with sock:  # plaintext to the TLS listener: no HTTP answer
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ProtocolError):
            read_response(sock, {"bytes": 0})


# -- hostile clients ---------------------------------------------------------------------------
def test_garbage_instead_of_a_client_hello_is_a_counted_tls_client_error(shared, pki):
    worker = shared.workers()[0]
    before_http = tls_failures(shared, "ERR_SSL_HTTP_REQUEST")
    before_all = all_tls_failures(shared)
    before_reset = tls_failures(shared, "ECONNRESET")
    fds = fd_count(worker)
    for i in range(10):
        with socket.create_connection(("127.0.0.1", shared.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" if i % 2 else b"\x16\x03\x01\x00\x05garbagegarbage")
            assert closed_by_server(sock)
    for _ in range(3):  # connect and leave before a ClientHello
        socket.create_connection(("127.0.0.1", shared.port), timeout=10).close()
    wait_until(lambda: tls_failures(shared, "ERR_SSL_HTTP_REQUEST") >= before_http + 5, 15, 0.1, "HTTP_REQUEST")
    wait_until(lambda: all_tls_failures(shared) >= before_all + 13, 15, 0.1, "every failure counted")
    wait_until(lambda: tls_failures(shared, "ECONNRESET") >= before_reset + 3, 15, 0.1, "EOF before hello")
    assert shared.workers() == [worker]
    wait_until(lambda: fd_count(worker) <= fds, 15, 0.05, "the worker's descriptors back to their count")
    with connect(shared.port, client_context(pki)) as sock:
        _, body = get(sock)
        assert json.loads(body)["pid"] == worker


def test_handshake_timeout_closes_a_silent_client(shared):
    before = tls_failures(shared, "ERR_TLS_HANDSHAKE_TIMEOUT")
    with socket.create_connection(("127.0.0.1", shared.port), timeout=20) as sock:
        assert closed_by_server(sock, timeout=20)
    wait_until(lambda: tls_failures(shared, "ERR_TLS_HANDSHAKE_TIMEOUT") == before + 1, 15, 0.1, "timeout counted")


# -- settings that change the handshake -------------------------------------------------------------
def test_tls13_minimum_rejects_a_tls12_only_client(daemons, pki):
    daemon = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--tls-min-version", "TLSv1.3",
                     app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    with pytest.raises(ssl.SSLError):
        connect(daemon.port, client_context(pki, max_version=ssl.TLSVersion.TLSv1_2)).close()
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{daemon.port}", "-tls1_2"],
                         input=b"", capture_output=True, timeout=30)
    assert out.returncode != 0 and b"New, TLSv1.2" not in out.stdout
    with connect(daemon.port, client_context(pki)) as sock:
        assert sock.version() == "TLSv1.3"
        _, body = get(sock)
        assert json.loads(body)["protocol"] == "TLSv1.3"
    wait_until(lambda: tls_failures(daemon, "ERR_SSL_UNSUPPORTED_PROTOCOL") >= 2, 15, 0.1, "failures counted")


def test_mutual_tls_required(daemons, pki):
    daemon = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--ca-certs", pki.ca,
                     "--verify-client", "required", app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    for cert in (None, pki.mallory):  # no certificate; one from a CA the server does not trust
        with pytest.raises((ssl.SSLError, ConnectionResetError, ProtocolError)):
            # TLS 1.3: the client finishes first; the server's alert arrives at the first read
            with connect(daemon.port, client_context(pki, cert=cert)) as sock:
                get(sock)
    with connect(daemon.port, client_context(pki, cert=pki.alice)) as sock:
        _, body = get(sock)
    info = json.loads(body)
    assert info["authorized"] is True and info["peer_cn"] == "alice" and info["peer_serial"] == "2001"
    wait_until(lambda: tls_failures(daemon, "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") == 1 and
               tls_failures(daemon, "ERR_SSL_CERTIFICATE_VERIFY_FAILED") == 1, 15, 0.1, "rejections counted")


def test_hup_swaps_the_certificate_while_a_kept_alive_connection_goes_on(daemons, pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pki.cert, cert)
    shutil.copy(pki.key, key)
    daemon = daemons("--certfile", str(cert), "--keyfile", str(key), "--keep-alive-timeout", "60",
                     app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    context = client_context(pki)
    old = connect(daemon.port, context)
    try:
        _, body = get(old)
        old_pid = json.loads(body)["pid"]
        assert old.getpeercert()["serialNumber"] == SERVER_SERIAL
        shutil.copy(pki.cert2, cert)
        shutil.copy(pki.key2, key)
        daemon.signal(signal.SIGHUP)

        def new_serial():
            with connect(daemon.port, context) as sock:
                return sock.getpeercert()["serialNumber"] == NEW_SERIAL
        wait_until(new_serial, 30, 0.1, "a new connection to get the new certificate")
        head, body = get(old)  # the kept-alive connection, to the old worker, still answers
        assert json.loads(body)["pid"] == old_pid
        assert old.getpeercert()["serialNumber"] == SERVER_SERIAL
    finally:
        old.close()


def test_wsgi_url_scheme_is_https(daemons, pki):
    daemon = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--interface", "wsgi",
                     app="apps.tls_app:wsgi_scheme", workers=1)
    daemon.wait_ready()
    with connect(daemon.port, client_context(pki)) as sock:
        _, body = get(sock)
    assert body == b"https"


def test_asgi_scheme_is_https(daemons, pki):
    daemon = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--interface", "asgi", "--lifespan", "off",
                     app="apps.tls_app:asgi_scheme", workers=1)
    daemon.wait_ready()
    with connect(daemon.port, client_context(pki)) as sock:
        _, first = get(sock)
        _, second = get(sock)  # the connection's scope template too
    assert first == second == b"https 127.0.0.1"


# -- configuration -------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, setting, message", [
    ("certfile", {"certfile": "missing.pem"}, "cannot read"),
    ("keyfile", {"keyfile": "{key2}"}, "does not match the certificate"),
    ("keyfile_password", {"keyfile": "{enc_key}", "keyfile_password": "wrong"}, "wrong password"),
    ("keyfile", {"keyfile": "{enc_key}"}, "keyfile_password is needed"),
    ("ca_certs", {"ca_certs": "{key}", "verify_client": "required"}, "not a valid CA bundle"),
    ("ciphers", {"ciphers": "NO-SUCH-CIPHER"}, "no cipher can be selected"),
])
def test_bad_tls_files_are_config_errors_with_exit_2(pki, tmp_path, key, setting, message):
    values = {"certfile": pki.cert, "keyfile": pki.key, "bind": ["https://127.0.0.1:0"], "metrics_bind": ""}
    values.update({k: v.format(**vars(pki)) for k, v in setting.items()})
    config = tmp_path / "prefork.toml"
    config.write_text("".join(f'{k} = {json.dumps(v)}\n' for k, v in values.items()))
    out = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config)], capture_output=True, text=True,
                         env=python_env(), timeout=60, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"{config}:{key}: " in out.stderr and message in out.stderr, out.stderr


def test_https_bind_without_certfile_and_the_encrypted_key_with_its_password(pki):
    from prefork import settings
    with pytest.raises(settings.ConfigError) as info:
        settings.load(env={}, argv_values={"bind": ["https://127.0.0.1:0"]})
    assert info.value.problems == ["argv:--bind: https://127.0.0.1:0: https needs certfile"]
    loaded = settings.load(env={"PREFORK_CERTFILE": pki.cert, "PREFORK_KEYFILE": pki.enc_key,
                                "PREFORK_KEYFILE_PASSWORD": "secret"}, argv_values={"bind": ["127.0.0.1:0"]})
    assert loaded.certfile == pki.cert
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--certfile", pki.cert, "--keyfile",
                          pki.enc_key, "--keyfile-password", "secret"], capture_output=True, text=True,
                         env=python_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'keyfile_password = "<hidden>"' in out.stdout and "secret" not in out.stdout.replace("<hidden>", "")


# -- the Server's events, in-process ----------------------------------------------------------------------
def test_server_emits_tls_client_error_and_secure_connection(serve, pki):
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context

    def setup(server, st):
        server.on("tlsClientError", lambda err, sock: st.record("tlsClientError", err.code, sock.encrypted))
        server.on("secureConnection", lambda sock: st.record("secureConnection", sock.get_protocol()))
        server.on("request", lambda req, res: res.end("ok"))
    st = serve(setup)
    listener = socket.create_server(("127.0.0.1", 0))
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}), 5.0)
    st.call(lambda: st.server.listen(sock=listener, tls=tls))
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_by_server(sock)
    assert st.wait_for(lambda e: e[0] == "tlsClientError") == ("tlsClientError", "ERR_SSL_HTTP_REQUEST", True)
    assert st.call(lambda: st.server.stats.tls_handshake_failures) == {"ERR_SSL_HTTP_REQUEST": 1}
    with connect(port, client_context(pki)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"ok")
    assert st.wait_for(lambda e: e[0] == "secureConnection") == ("secureConnection", "TLSv1.3")
    wait_until(lambda: st.call(lambda: st.server.connections) == 0, 10, 0.05, "both connections closed")


def test_tls_can_start_after_bytes_read_in_the_clear(serve, pki):
    """Room for a PROXY header: the server reads it, then starts TLS with the bytes that
    followed it in the same read (the start of the ClientHello)."""
    from prefork.net import Socket
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}), 5.0)
    st = serve()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)

    def accept():
        conn, _ = listener.accept()
        conn.setblocking(False)
        sock = Socket(st.loop, conn)
        clear = bytearray()

        def on_data(data):
            clear.extend(data)
            if b"\r\n" in clear and sock.tls is None:
                header, _, rest = bytes(clear).partition(b"\r\n")
                sock.off("data", on_data)
                sock.on("data", lambda plain: sock.end(b"got " + plain))
                sock.start_tls(tls, data=rest)
                st.record("header", header)
        sock.on("data", on_data)
        sock.resume()
    st.call(lambda: st.loop.add_reader(listener.fileno(), accept))
    raw = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=10)
    context = client_context(pki)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    raw.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 443\r\n" + outgoing.read())  # one segment
    while True:
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            if outgoing.pending:
                raw.sendall(outgoing.read())
            incoming.write(raw.recv(65536))
    client.write(b"hello")
    raw.sendall(outgoing.read())
    data = b""
    while True:
        try:
            data += client.read(100)
            break
        except ssl.SSLWantReadError:
            chunk = raw.recv(65536)
            assert chunk, data
            incoming.write(chunk)
    assert data == b"got hello"
    assert st.wait_for(lambda e: e[0] == "header") == ("header", b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 443")
    raw.close()
    st.call(lambda: st.loop.remove_reader(listener.fileno()))
    listener.close()


def test_hup_with_a_broken_certificate_keeps_the_running_one(daemons, pki, tmp_path):
    cert = tmp_path / "cert.pem"
    shutil.copy(pki.cert, cert)
    daemon = daemons("--certfile", str(cert), "--keyfile", pki.key, app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    cert.write_text("not a certificate\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_log(r"reload refused")
    assert f"reload: argv:--certfile: {cert} holds no PEM certificate" in daemon.log()
    with connect(daemon.port, client_context(pki)) as sock:
        assert sock.getpeercert()["serialNumber"] == SERVER_SERIAL
        _, body = get(sock)
        assert json.loads(body)["encrypted"] is True


# -- PROXY protocol in front of TLS ------------------------------------------------------------------------
def test_proxy_header_comes_before_the_tls_handshake(daemons, pki):
    daemon = daemons("--certfile", pki.cert, "--keyfile", pki.key, "--proxy-protocol",
                     app="apps.fleet:v1", workers=1)
    daemon.wait_ready()
    raw = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        raw.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 4444 443\r\n")  # in the clear, as a balancer sends it
        with client_context(pki).wrap_socket(raw, server_hostname="localhost") as sock:
            assert sock.version() is not None
            head, body = get(sock, close=True)
    finally:
        raw.close()
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"client=203.0.113.7:4444" in body


def test_a_client_without_sni_gives_servername_false(shared, pki):
    context = client_context(pki)
    context.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", shared.port), timeout=10)
    with context.wrap_socket(raw, suppress_ragged_eofs=False) as sock:  # no server_hostname: no SNI
        _, body = get(sock)
    assert json.loads(body)["servername"] is False
