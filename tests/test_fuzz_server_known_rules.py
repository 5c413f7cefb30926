"""The server fuzz's known-difference rules match only what they name."""

from fuzz_server_node import _tunnel_inside

HEAD = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\n\r\n"
TUNNEL = b"HTTP/1.1 200 Connection Established\r\n\r\nhello"


def test_a_tunnel_node_handed_over_inside_a_flushed_response_is_the_only_difference():
    assert _tunnel_inside(HEAD + TUNNEL + b"late", HEAD + b"late")
    assert _tunnel_inside(HEAD + b"late" + TUNNEL, HEAD + b"late")


def test_other_bytes_beside_the_tunnel_are_a_finding():
    assert not _tunnel_inside(HEAD + TUNNEL + b"late", HEAD + b"LATE")
    assert not _tunnel_inside(HEAD + TUNNEL + b"late", HEAD.replace(b"200 OK", b"500 Oops") + b"late")
    assert not _tunnel_inside(HEAD + b"hello" + b"late", HEAD + b"late")  # no tunnel reply at all
    assert not _tunnel_inside(HEAD + TUNNEL + b"late", HEAD + b"late" + b"more")
