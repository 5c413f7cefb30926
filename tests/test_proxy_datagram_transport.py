"""A PROXY protocol v2 header whose transport is DGRAM (UDP over IPv4 or IPv6) names no
client of the TCP connection it arrives on: the connection keeps its own address, as
HAProxy (which takes only TCPv4 and TCPv6) and nginx ("only STREAM is supported") keep
it, where the UDP source used to become the request's client (``remote_address``, the
access log, ``proxy_allow_ips`` judging the balancer) as if a TCP client had sent it."""

import re

import pytest

from prefork.net import proxy
from test_proxy_protocol import CLOSE, ask, inet4, inet6, proxied, tlv, v2  # noqa: F401  (proxied: a fixture)

DGRAM = [
    v2(family=1, transport=2, body=inet4("203.0.113.9", "10.0.0.1", 40000, 8080)),
    v2(family=2, transport=2, body=inet6("2001:db8::9", "::1", 1, 2)),
]


@pytest.mark.parametrize("header", DGRAM, ids=["udp4", "udp6"])
def test_a_datagram_header_keeps_the_connections_own_address(proxied, header):  # noqa: F811
    server = proxied()
    response = ask(server.port, header + CLOSE)
    assert response.startswith(b"HTTP/1.1 200 OK"), response
    assert re.search(rb"\r\n\r\nIPv4 127\.0\.0\.1 \d+$", response), response
    assert server.errors() == {}


def test_a_datagram_header_is_read_whole_and_its_tlvs_still_checked():
    header = v2(family=1, transport=2, body=inet4("203.0.113.9", "10.0.0.1", 1, 2) + tlv(0x20, b"x" * 40))
    parsed, used = proxy.parse(header + CLOSE)
    assert used == len(header) and parsed.peer is None
    cut = v2(family=1, transport=2, body=inet4("203.0.113.9", "10.0.0.1", 1, 2) + b"\x20\x00")
    with pytest.raises(proxy.ProxyProtocolError, match="truncated v2 TLV"):
        proxy.parse(cut)
    # a stream header beside it still names its client
    assert proxy.parse(v2(body=inet4("203.0.113.9", "10.0.0.1", 1, 2)))[0].peer == ("IPv4", "203.0.113.9", 1)
