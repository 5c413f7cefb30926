"""A first handshake record that is not a ClientHello (a message of another type), or
a ClientHello whose header says it is longer than OpenSSL takes, is refused at once with
OpenSSL's alert, as nginx refuses it (``unexpected message``, ``excessive message
size``), and a record of another major version is closed at once (``wrong version
number``): the ClientHello reader waited for the rest of the message the header
announced, and the client was held until the handshake timeout, then closed without an
alert."""

import socket
import time

import pytest

from prefork.net.hello import HelloReader
from test_hostile_net_tls import pki, tls_listener  # noqa: F401
from test_tls_alpn import hello_server

HANDSHAKE_TIMEOUT = 8.0
NOT_HELLOS = {
    "another message type": b"\x16\x03\x01\x00\x05hello",
    "a ServerHello": b"\x16\x03\x03\x00\x06\x02\x00\x00\x46\x03\x03",
    "a hello said to be 16 MiB": b"\x16\x03\x01\x00\x05\x01\xff\xff\xffx",
    "a record of version 5.5": b"\x16\x05\x05\x00\x05\x01\x00\x01\x00\x03",  # (no alert: nginx sends none)
}


@pytest.mark.parametrize("name", sorted(NOT_HELLOS))
def test_the_reader_leaves_it_to_openssl_at_once(name):
    assert HelloReader().feed(NOT_HELLOS[name]) is False


def test_a_hello_still_coming_is_waited_for():
    assert HelloReader().feed(b"\x16\x03\x01\x00\x05\x01\x00\x01\x00\x03") is None


@pytest.mark.parametrize("name", sorted(NOT_HELLOS))
def test_it_gets_an_alert_long_before_the_handshake_timeout(serve, pki, name):  # noqa: F811
    st_ = serve(hello_server)
    port = tls_listener(st_, pki, handshake_timeout=HANDSHAKE_TIMEOUT)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=HANDSHAKE_TIMEOUT + 5) as sock:
        sock.sendall(NOT_HELLOS[name])
        answer = b""
        while True:
            chunk = sock.recv(64)
            if not chunk:
                break
            answer += chunk
    took = time.monotonic() - started
    if "version" not in name:  # a fatal alert, then the close
        assert answer[:1] == b"\x15" and answer[5:6] == b"\x02", answer
    assert took < HANDSHAKE_TIMEOUT / 2, f"answered after {took:.1f} s"
    st_.wait_for(lambda e: e[0] == "tlsClientError")
    codes = [e[1] for e in st_.events if e[0] == "tlsClientError"]
    assert codes and codes[0].startswith("ERR_SSL_") and codes[0] != "ERR_TLS_HANDSHAKE_TIMEOUT", codes
