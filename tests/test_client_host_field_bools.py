"""A mapping's Host or Authorization given as a bool, read as Node's client reads it
(before the head writes a bool as text): False is no value (Host and the ``auth``
credentials replace it where it stands), True is a Host that is not a string
(ERR_INVALID_ARG_TYPE before anything is sent), an Authorization of True goes out as
``true``. Node 20's program, against the same raw server:

    const net = require('net'), http = require('http');
    const srv = net.createServer(s => s.on('data', d => {
      console.log(JSON.stringify(d.toString()));
      s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n'); }));
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port;
      const get = (headers, auth) => {
        try { http.get({host: '127.0.0.1', port, headers, auth, agent: false}, r => r.resume()); }
        catch (e) { console.log(e.code, e.message); } };
      get({Host: false});  // "GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n"
      get({Authorization: false}, 'u:p');
        // "GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n"
      get({Host: true});  // ERR_INVALID_ARG_TYPE The "options.headers.host" property must be of type string...
      get({'X-A': 1, Host: false, 'X-B': 2});
        // "GET / HTTP/1.1\r\nX-A: 1\r\nHost: 127.0.0.1:PORT\r\nX-B: 2\r\nConnection: close\r\n\r\n"
      get({Host: 'a', host: false});  // "GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n..." (the last one counts)
      get({Authorization: true}, 'u:p');  // "...Authorization: true\r\nHost: 127.0.0.1:PORT..."
      get(['Host', false]);  // "GET / HTTP/1.1\r\nHost: false\r\n..." (an array's fields as given)
    });
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


def test_a_host_given_false_is_replaced_by_the_clients_where_it_stands(server):
    port = server.port
    assert sent_head(port, headers={"Host": False}) == \
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive"
    assert sent_head(port, headers={"X-A": 1, "Host": False, "X-B": 2}) == \
        f"GET / HTTP/1.1\r\nX-A: 1\r\nHost: 127.0.0.1:{port}\r\nX-B: 2\r\nConnection: keep-alive"
    assert sent_head(port, headers={"Host": "a", "host": False}) == \
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive"


def test_an_authorization_given_false_is_replaced_by_the_auth_credentials(server):
    port = server.port
    assert sent_head(port, headers={"Authorization": False}, auth="u:p") == \
        f"GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive"
    assert sent_head(port, headers={"Authorization": True}, auth="u:p") == \
        f"GET / HTTP/1.1\r\nAuthorization: true\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive"


def test_a_host_given_true_is_refused_before_anything_is_sent(server):
    async def main():
        with pytest.raises(TypeError) as caught:
            prefork.get({"host": "127.0.0.1", "port": server.port, "headers": {"Host": True}})
        return caught.value
    err = asyncio.run(main())
    assert err.code == "ERR_INVALID_ARG_TYPE"
    assert 'The "options.headers.host" property must be of type string. Received True' in str(err)
    assert server.accepted == 0


def test_a_flat_lists_host_of_false_goes_out_as_node_writes_it(server):
    assert sent_head(server.port, headers=["Host", False]) == "GET / HTTP/1.1\r\nHost: false\r\nConnection: keep-alive"


def test_a_host_given_as_bytes_is_sent_as_those_bytes(server):
    assert sent_head(server.port, headers={"Host": b"h\xe9"}) == "GET / HTTP/1.1\r\nHost: h\xe9\r\nConnection: keep-alive"


def test_set_host_none_is_not_given_and_the_host_goes_out(server):
    # (None is an option not given, Node's undefined: a wrapper passing its own default on)
    assert sent_head(server.port, set_host=None) == \
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: keep-alive"
    assert sent_head(server.port, set_host=0) == "GET / HTTP/1.1\r\nConnection: keep-alive"
