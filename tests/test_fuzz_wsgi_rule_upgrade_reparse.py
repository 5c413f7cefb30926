"""The WSGI fuzz's "parse error ends the connection" rule reads an upgrade request as
the server serves it (no upgrade listener): its head parsed again without the Upgrade
field by a fresh parser, then what follows. The rule fires where that parse fails and
not where it passes."""
from fuzz_wsgi_gunicorn_known import parse_error_after

PLAIN = (b"GET", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"", False)


def upgrade(extra=b""):
    return (b"GET", b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + extra + b"\r\n", b"", False)


def test_an_upgrade_head_the_fresh_parser_refuses_is_a_parse_error_after_the_first_request():
    # Transfer-Encoding: identity is refused by the fresh parser that reads the head again
    assert parse_error_after([PLAIN, upgrade(b"Transfer-Encoding: identity\r\n")], 0)


def test_a_good_upgrade_head_followed_by_a_bad_request_is_still_seen():
    bad = (b"GET", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", b"", False)
    assert parse_error_after([PLAIN, upgrade(), bad], 1)
    assert not parse_error_after([PLAIN, upgrade(), bad], 2)


def test_a_good_upgrade_head_is_no_parse_error():
    assert not parse_error_after([PLAIN, upgrade(), PLAIN], 0)
