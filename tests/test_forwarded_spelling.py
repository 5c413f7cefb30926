"""The client an ``X-Forwarded-For`` hop names is spelled as ``getpeername()`` spells the
same peer (and as nginx's realip hands it on): an IPv4-mapped IPv6 hop is
``::ffff:127.0.0.1``. prefork gave ``ipaddress``'s ``::ffff:7f00:1``, so the WSGI
``REMOTE_ADDR``, the ASGI client and the access log named a client in a spelling no
other layer uses (nor the same client reaching a dual-stack listener directly)."""

import socket

import pytest

from prefork.http.forwarded import forwarded_client, hop_address


def dual_stack_peer():
    """The address a dual-stack listener reads for an IPv4 client: ::ffff:127.0.0.1."""
    listener = socket.socket(socket.AF_INET6)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", 0))
    listener.listen(1)
    with listener, socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=5):
        accepted, peer = listener.accept()
        accepted.close()
    return peer[0]


def test_a_mapped_hop_is_spelled_as_getpeername_spells_it():
    peer = dual_stack_peer()
    assert peer == "::ffff:127.0.0.1"
    for hop in ("::ffff:127.0.0.1", "::FFFF:7f00:1", "[::ffff:127.0.0.1]:8080", " 0:0:0:0:0:ffff:127.0.0.1 "):
        assert hop_address(hop) == peer, hop
    assert forwarded_client("::ffff:7f00:1, 10.0.0.2", lambda a: a == "10.0.0.2") == peer


@pytest.mark.parametrize("hop, spelled", [
    ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("[2001:db8::1]:443", "2001:db8::1"),
    ("::1", "::1"), ("10.0.0.1:80", "10.0.0.1"), ("fe80::1%eth0", "fe80::1"), ("unknown", None),
])
def test_other_hops_keep_their_spelling(hop, spelled):
    assert hop_address(hop) == spelled
