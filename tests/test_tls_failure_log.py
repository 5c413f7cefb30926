"""A client certificate refused at the handshake gets an error log line naming the client
and OpenSSL's reason, as nginx logs ``client SSL certificate verify error`` (there was
no line at any level: only the metric's count by code), at most one per code every
``LOG_EVERY`` seconds; other failures are logged at debug only."""

import logging
import socket
import ssl

import pytest

from prefork.net import tlslog
from prefork.net.throttle import Throttle
from test_hostile_net_tls import client_context, connect, pki, tls_listener  # noqa: F401
from test_tls_alpn import hello_server


@pytest.fixture
def fresh_log(monkeypatch):
    throttle = Throttle(tlslog.LOG_EVERY)
    monkeypatch.setattr(tlslog, "_told", throttle)
    return throttle


def refused(port, context):
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with connect(port, context, timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(100)  # (TLS 1.3: the refusal comes after the client's Finished)


def lines(caplog, level):
    return [r.getMessage() for r in caplog.records if r.name == "prefork.server" and r.levelno == level
            and r.getMessage().startswith("TLS ")]


def test_a_refused_client_certificate_is_logged_once_per_code_a_while(serve, pki, caplog, fresh_log):  # noqa: F811
    caplog.set_level(logging.INFO, "prefork.server")
    st_ = serve(hello_server)
    port = tls_listener(st_, pki, ca_certs=pki.ca, verify_client="required")
    for _ in range(3):
        refused(port, client_context(pki, pki.mallory))
    st_.wait_for(lambda e: len([x for x in st_.events if x[0] == "tlsClientError"]) >= 3)
    refused(port, client_context(pki))
    st_.wait_for(lambda e: len([x for x in st_.events if x[0] == "tlsClientError"]) >= 4)
    told = lines(caplog, logging.INFO)
    assert len(told) == 2, told
    assert told[0].startswith("TLS client certificate refused from 127.0.0.1: certificate verify failed: "), told
    assert "(ERR_SSL_CERTIFICATE_VERIFY_FAILED)" in told[0] and "_ssl.c" not in told[0], told
    assert "(ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)" in told[1], told


def test_the_next_line_counts_those_not_logged(serve, pki, caplog, fresh_log, monkeypatch):  # noqa: F811
    caplog.set_level(logging.INFO, "prefork.server")
    st_ = serve(hello_server)
    port = tls_listener(st_, pki, ca_certs=pki.ca, verify_client="required")
    for n in range(1, 4):
        refused(port, client_context(pki, pki.mallory))
        st_.wait_for(lambda e: len([x for x in st_.events if x[0] == "tlsClientError"]) >= n)
    fresh_log.every = 0.0  # (the next line is due at once)
    refused(port, client_context(pki, pki.mallory))
    st_.wait_for(lambda e: len([x for x in st_.events if x[0] == "tlsClientError"]) >= 4)
    told = lines(caplog, logging.INFO)
    assert len(told) == 2 and told[1].endswith("(2 more since the last such line)"), told


def test_other_failures_are_logged_at_debug_only(serve, pki, caplog, fresh_log):  # noqa: F811
    caplog.set_level(logging.DEBUG, "prefork.server")
    st_ = serve(hello_server)
    port = tls_listener(st_, pki)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        while sock.recv(100):
            pass
    st_.wait_for(lambda e: e[0] == "tlsClientError")
    assert not lines(caplog, logging.INFO)
    debug = lines(caplog, logging.DEBUG)
    assert len(debug) == 1 and debug[0].startswith("TLS handshake failed from 127.0.0.1: "), debug


def test_a_client_refusing_the_server_certificate_is_logged(serve, pki, caplog, fresh_log):  # noqa: F811
    """A chain the client cannot build (here: a CA it does not trust, as with a missing
    intermediate) shows as the client's unknown_ca alert."""
    caplog.set_level(logging.INFO, "prefork.server")
    st_ = serve(hello_server)
    port = tls_listener(st_, pki)
    stranger = ssl.create_default_context()  # the system's CAs: not the test CA
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(port, stranger)
    st_.wait_for(lambda e: e[0] == "tlsClientError")
    told = lines(caplog, logging.INFO)
    assert len(told) == 1, (told, st_.events)
    assert told[0].startswith("TLS client refused the server's certificate from 127.0.0.1: "), told
    assert "(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)" in told[0], told
