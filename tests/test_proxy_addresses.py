"""The client address a PROXY header names reaches the application spelled one way: a
v1 header's text address comes out as the same client's address does from a v2 header
(binary) or from ``getpeername()`` on a direct connection, whatever spelling the
balancer used (upper-case hex, zeros written out, an IPv4-mapped address in hex)."""

import ipaddress

import pytest

from test_proxy_protocol import CLOSE, ask, inet6, proxied, v2  # noqa: F401


@pytest.mark.parametrize("written", [
    "2001:DB8:0:0:0:0:0:1",
    "2001:0db8:0000::0001",
    "::FFFF:192.0.2.1",
    "::ffff:c000:0201",
    "FE80::1",
])
def test_a_v1_address_is_seen_as_a_v2_header_would_give_it(proxied, written):  # noqa: F811
    server = proxied()
    through_v1 = ask(server.port, f"PROXY TCP6 {written} ::1 4000 80\r\n".encode() + CLOSE)
    through_v2 = ask(server.port, v2(family=2, body=inet6(written, "::1", 4000, 80)) + CLOSE)
    canonical = str(ipaddress.IPv6Address(written)) if not written.lower().startswith("::ffff:") else None
    assert through_v1.startswith(b"HTTP/1.1 200 OK"), through_v1
    assert through_v1.rsplit(b"\r\n\r\n", 1)[1] == through_v2.rsplit(b"\r\n\r\n", 1)[1], (through_v1, through_v2)
    if canonical is not None:
        assert through_v1.endswith(f"IPv6 {canonical} 4000".encode()), through_v1
    assert server.errors() == {}
