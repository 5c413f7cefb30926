"""The ``auth`` option read as Node's ``Buffer.from(options.auth)`` reads it: bytes are
the credentials' bytes (not their ``repr``), a str is UTF-8 (a lone surrogate as
U+FFFD, not an exception from the constructor), and another type (a number, True) is
ERR_INVALID_ARG_TYPE before anything is sent, unless the headers give Authorization.
Node 20, against the same raw server:

    http.get({host: '127.0.0.1', port, auth: Buffer.from([117, 58, 255, 112])})
      // "...Authorization: Basic dTr/cA==..."
    http.get({host: '127.0.0.1', port, auth: 'a\\ud800b'})  // "...Authorization: Basic Ye+/vWI=..."
    http.get({host: '127.0.0.1', port, auth: [117, 58, 368, -1, 'a', '65', 1.7, true, NaN, ' 7 ', Infinity]})
      // "...Authorization: Basic dTpw/wBBAQEABwA=..." (each item's number & 255; NaN and the rest 0)
    http.get({host: '127.0.0.1', port, auth: 123})
      // throws ERR_INVALID_ARG_TYPE The first argument must be of type string or an
      // instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received type number (123)
    http.get({host: '127.0.0.1', port, auth: 123, headers: {Authorization: 'x'}})  // "Authorization: x"
"""

import asyncio

import pytest

import prefork
from test_client_host_field_values import echo_head, sent_head
from test_hostile_client import RawServer


@pytest.fixture
def server():
    srv = RawServer(echo_head)
    yield srv
    srv.close()


@pytest.mark.parametrize("auth, basic", [(b"u:p", "dTpw"), (bytearray(b"u:\xffp"), "dTr/cA=="),
                                         (memoryview(b"u:p"), "dTpw"), ("a\ud800b", "Ye+/vWI="),
                                         ("üser:pä", "w7xzZXI6cMOk"), ([117, 58, 112], "dTpw"),
                                         ([117, 58, 368, -1, "a", "65", 1.7, True, float("nan"), " 7 ",
                                           float("inf")], "dTpw/wBBAQEABwA=")])
def test_auth_bytes_and_text_are_sent_as_node_makes_their_bytes(server, auth, basic):
    assert sent_head(server.port, auth=auth) == \
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Basic {basic}\r\nConnection: keep-alive"


@pytest.mark.parametrize("auth", [123, True, 1.5])
def test_auth_of_another_type_is_refused_before_anything_is_sent(server, auth):
    async def main():
        with pytest.raises(TypeError) as caught:
            prefork.get({"host": "127.0.0.1", "port": server.port, "auth": auth})
        return caught.value
    err = asyncio.run(main())
    assert err.code == "ERR_INVALID_ARG_TYPE"
    assert str(err).startswith("The first argument must be of type string or an instance of Buffer")
    assert server.accepted == 0


def test_auth_of_another_type_is_not_read_when_the_headers_give_authorization(server):
    assert sent_head(server.port, auth=123, headers={"Authorization": "x"}) == \
        f"GET / HTTP/1.1\r\nAuthorization: x\r\nHost: 127.0.0.1:{server.port}\r\nConnection: keep-alive"
