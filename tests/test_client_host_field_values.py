"""The Host and Authorization fields the options' headers give, as Node's client takes
them: a field given an empty value ("", 0, False) counts as not given, so Host and the
``auth`` credentials replace it where it stands; a mapping's Host that is not a string
(a list: two Host lines, a request servers must refuse) is refused at once with
ERR_INVALID_ARG_TYPE, as Node's agent throws. Node's program, against the same raw
server (which answers with the head it read as the body):

    const http = require('http');
    const show = (headers, extra = {}) => {
      try {
        http.get({host: '127.0.0.1', port, headers, ...extra}, (res) => {
          let b = ''; res.setEncoding('latin1');
          res.on('data', (d) => b += d); res.on('end', () => console.log(JSON.stringify(b)));
        });
      } catch (e) { console.log(e.code, e.message); }
    };
    show({Host: ['a', 'b']});  // ERR_INVALID_ARG_TYPE The "options.headers.host" property must be of type string...
    show({Host: ['a']}, {setHost: false});  // the same
    show({Host: '', Authorization: ''}, {auth: 'u:p'})
      // "GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nAuthorization: Basic dTpw\r\nConnection: keep-alive"
    show({authorization: '', 'X-A': '1'}, {auth: 'u:p'})
      // "GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\nX-A: 1\r\nHost: 127.0.0.1:PORT\r\nConnection: keep-alive"
    show({Host: ''}, {setHost: false})  // "GET / HTTP/1.1\r\nHost: \r\nConnection: keep-alive"
"""

import asyncio

import pytest

import prefork
from test_hostile_client import RawServer, read_head


def echo_head(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        body = head.split(b"\r\n\r\n")[0]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.fixture
def server():
    srv = RawServer(echo_head)
    yield srv
    srv.close()


def sent_head(port, **options):
    async def main():
        got = asyncio.get_running_loop().create_future()
        agent = prefork.Agent()
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent, **options})

        def on_response(res):
            body = []
            res.on("data", body.append)
            res.on("end", lambda: got.set_result(b"".join(body).decode("latin-1")))
        req.on("response", on_response)
        req.on("error", lambda err: got.done() or got.set_result(err))
        try:
            return await asyncio.wait_for(got, 5)
        finally:
            agent.destroy()
    return asyncio.run(main())


@pytest.mark.parametrize("options", [{"headers": {"Host": ["a", "b"]}},
                                     {"headers": {"host": ["a"]}, "set_host": False},
                                     {"headers": {"Host": []}},
                                     {"headers": {"Host": 5}}])
def test_a_host_field_that_is_not_a_string_is_refused_before_anything_is_sent(server, options):
    async def main():
        with pytest.raises(TypeError) as caught:
            prefork.get({"host": "127.0.0.1", "port": server.port, **options})
        return caught.value
    err = asyncio.run(main())
    assert err.code == "ERR_INVALID_ARG_TYPE"
    assert 'The "options.headers.host" property must be of type string' in str(err)
    assert server.accepted == 0


def test_an_empty_host_and_authorization_are_replaced_where_they_stand(server):
    head = sent_head(server.port, headers={"Host": "", "Authorization": ""}, auth="u:p")
    assert head == (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Basic dTpw\r\n"
                    "Connection: keep-alive")
    head = sent_head(server.port, headers={"authorization": "", "X-A": "1"}, auth="u:p")
    assert head == (f"GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\nX-A: 1\r\nHost: 127.0.0.1:{server.port}\r\n"
                    "Connection: keep-alive")


def test_an_empty_host_stays_when_set_host_is_false(server):
    assert sent_head(server.port, headers={"Host": ""}, set_host=False) == \
        "GET / HTTP/1.1\r\nHost: \r\nConnection: keep-alive"


def test_a_flat_list_sends_its_host_lines_as_given(server):
    head = sent_head(server.port, headers=["Host", "a", "Host", "b"])
    assert head == "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: keep-alive"
