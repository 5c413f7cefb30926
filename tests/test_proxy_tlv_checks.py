"""The TLVs of a PROXY v2 header are checked as HAProxy checks them: a TLV that runs past
the header's length (its head or its value) and a CRC32c TLV whose checksum does not
match refuse the header, as does a UNIQUE_ID over 128 bytes. prefork read past any TLV
bytes, so a header cut or mangled on its way was taken. Differential: HAProxy 2.6
receiving (``accept-proxy``) refuses the same headers and takes the same good ones, and
HAProxy sending (``send-proxy-v2`` with ``proxy-v2-options crc32c``) is accepted."""

import socket
import struct

import pytest

import haproxy
from daemon import Daemon
from harness import read_until_close
from prefork.net import proxy
from prefork.net.proxy_tlv import crc32c
from test_proxy_protocol import from_client_address, haproxy_path  # noqa: F401 (a fixture)

SIG = proxy.V2_SIGNATURE
ADDRESSES = socket.inet_aton("192.0.2.1") + socket.inet_aton("192.0.2.2") + struct.pack("!HH", 1234, 80)
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def header(tlvs, length=None):
    body = ADDRESSES + tlvs
    return SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body) if length is None else length) + body


def tlv(kind, value):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def with_crc(tlvs_before=b"", crc_length=4, wrong=False):
    """A header whose last TLV is a CRC32c computed as the specification says."""
    data = header(tlvs_before + tlv(0x03, bytes(crc_length)))
    if crc_length != 4:
        return data
    crc = crc32c(data) ^ (1 if wrong else 0)
    return data[:-4] + struct.pack("!I", crc)


GOOD = {
    "no TLV": header(b""),
    "a NOOP and an ALPN": header(tlv(0x04, b"") + tlv(0x01, b"h2")),
    "a matching CRC32c": with_crc(tlv(0x02, b"example.com")),
    "a UNIQUE_ID of 128 bytes": header(tlv(0x05, b"u" * 128)),
}
BAD = {
    "a TLV value past the end": header(bytes([0x04]) + struct.pack("!H", 9) + b"ab"),
    "one byte of a TLV head": header(b"\x04"),
    "two bytes of a TLV head": header(b"\x04\x00"),
    "a CRC32c that does not match": with_crc(tlv(0x02, b"example.com"), wrong=True),
    "a CRC32c of 3 bytes": with_crc(crc_length=3),
    "a UNIQUE_ID of 129 bytes": header(tlv(0x05, b"u" * 129)),
}


def test_crc32c_is_castagnoli_s():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0


@pytest.mark.parametrize("name", GOOD)
def test_well_formed_tlvs_are_read_past(name):
    parsed, used = proxy.parse(GOOD[name] + REQUEST)
    assert used == len(GOOD[name]) and parsed.source_address == "192.0.2.1"


@pytest.mark.parametrize("name", BAD)
def test_malformed_tlvs_refuse_the_header(name):
    with pytest.raises(proxy.ProxyProtocolError, match="TLV|CRC32C"):
        proxy.parse(BAD[name] + REQUEST)


def test_a_local_header_s_block_is_still_ignored():
    local = SIG + bytes([0x20, 0x00]) + struct.pack("!H", 3) + b"\x04\x00\x09"
    assert proxy.parse(local)[0].command == "LOCAL"


def start_haproxy(path, tmp, frontend, rest="", client_timeout="5s"):
    """A HAProxy whose frontend ``f`` binds a listener of ``127.0.0.1`` (handed over,
    its port known before the start) with ``frontend``'s lines; (haproxy, port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    config = f"""global
    stats socket @STATS@ mode 600 level admin
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client {client_timeout}
    timeout server {client_timeout}
frontend f
    bind fd@{listener.fileno()} {frontend}
{rest}"""
    try:
        return haproxy.HAProxy(path, tmp, config, pass_fds=[listener.fileno()]), listener.getsockname()[1]
    finally:
        listener.close()


def haproxy_answers(path, tmp, data):
    """What HAProxy (accept-proxy, answering 200 itself) says to ``data``."""
    lb, port = start_haproxy(path, tmp, "accept-proxy\n"
                             "    http-request return status 200 content-type text/plain string ok")
    try:
        answers = {}
        for name, sent in data.items():
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(sent + REQUEST)
                try:
                    answers[name] = read_until_close(sock).startswith(b"HTTP/1.1 200")
                except ConnectionResetError:
                    answers[name] = False
        return answers
    finally:
        lb.stop()


def test_haproxy_takes_and_refuses_the_same_headers(haproxy_path, tmp_path):  # noqa: F811
    answers = haproxy_answers(haproxy_path, str(tmp_path), {**GOOD, **BAD})
    assert answers == {**{name: True for name in GOOD}, **{name: False for name in BAD}}


def test_haproxy_s_crc32c_is_accepted(haproxy_path, tmp_path):  # noqa: F811
    daemon = Daemon("--proxy-protocol", app="apps.fleet:v1", workers=1)
    lb = None
    try:
        daemon.wait_ready()
        lb, port = start_haproxy(haproxy_path, str(tmp_path), "\n    default_backend b",
                                 f"backend b\n    server app 127.0.0.1:{daemon.port} send-proxy-v2 "
                                 "proxy-v2-options crc32c,unique-id,authority\n", client_timeout="30s")
        client_port, response = from_client_address(port)
        assert response.startswith(b"HTTP/1.1 200 OK"), response
        assert f"client=127.0.0.2:{client_port}".encode() in response, response
    finally:
        if lb is not None:
            lb.stop()
        daemon.cleanup()
